"""/domisili: report that a linked household member lives elsewhere (another regency or city,
or abroad), change or withdraw it: person → consent and where → which place → since when →
why (optional) → confirm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context, Deps, chat_locale, deps
from bot.errors import DomainError
from bot.handlers.common import (
    Row,
    answer_query,
    callback_arg,
    chat_id_of,
    close_step,
    hand_on,
    on_step,
    refuse,
    reply,
    row_id,
    send_markup,
    stale,
)
from bot.places import Place
from bot.services import elsewhere
from bot.services.elsewhere import Report
from bot.views.elsewhere import REASONS, people_buttons, place_buttons

CHOOSING, TYPING_PLACE, TYPING_MONTH = range(200, 203)
DRAFT = "elsewhere"


def draft(context: Context) -> dict[str, Any]:
    """The report being put together (on the server, never in buttons)."""
    assert context.user_data is not None
    return context.user_data.setdefault(DRAFT, {})


async def show(update: Update, context: Context) -> int:
    """/domisili: the chat's linked people, each with the chat's report, and their buttons."""
    d = deps(context)
    people = await elsewhere.linked_people(d.db, chat_id_of(update))
    locale = await chat_locale(context, chat_id_of(update))
    pairs = [(p.resident, p.report.id if p.report else None) for p in people]
    markup = people_buttons(d.renderer, locale, pairs) if people else None
    template = "citizen/elsewhere_list.html"
    if markup is None:
        await reply(update, context, template, people=people)
    else:
        await send_markup(update, context, template, markup, people=people)
    return ConversationHandler.END


async def begin(update: Update, context: Context) -> int:
    """`dom:go:<n>`: the consent text and where the n-th linked person lives."""
    await answer_query(update)
    d = deps(context)
    try:
        person = await elsewhere.linked_person(
            d.db, chat_id_of(update), row_id(callback_arg(update)[3:])
        )
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    assert context.user_data is not None
    for other in ("booking", "report"):  # one flow at a time
        context.user_data.pop(other, None)
    resident = person.resident
    context.user_data[DRAFT] = {
        "nik": resident.nik,
        "born": resident.tanggal_lahir,
        "name": resident.nama,
    }
    rows: list[Row] = [
        [("elsewhere_regency", "dom:k:regency")],
        [("elsewhere_abroad", "dom:k:abroad")],
    ]
    rows.append([("booking_cancel", "dom:no")])
    await reply(update, context, "citizen/elsewhere_consent.html", rows=rows, who=person, step=True)
    return CHOOSING


async def kind_chosen(update: Update, context: Context) -> int:
    """Another regency or city, or abroad: ask for its name."""
    await answer_query(update)
    kind = callback_arg(update).removeprefix("k:")
    if kind not in ("regency", "abroad") or "nik" not in draft(context):
        return await stale(update, context)
    draft(context).update(kind=kind)
    await reply(update, context, "citizen/elsewhere_ask_place.html", kind=kind, step=True)
    return TYPING_PLACE


async def place_typed(update: Update, context: Context) -> int:
    """A typed name: one place asks for the month, several are offered as buttons; a name of
    nothing (or of home) is answered and asked again."""
    assert update.message is not None
    d, b = deps(context), draft(context)
    try:
        places = elsewhere.places_named(update.message.text or "", b["kind"])
    except DomainError as error:
        await refuse(update, context, error)
        return TYPING_PLACE
    if len(places) == 1:
        return await _ask_month(update, context, places[0])
    locale = await chat_locale(context, chat_id_of(update))
    markup = place_buttons(d.renderer, locale, places)
    await send_markup(update, context, "citizen/elsewhere_choose_place.html", markup, step=True)
    return TYPING_PLACE


async def place_chosen(update: Update, context: Context) -> int:
    """`dom:pl:<kind>:<code>`: one of the places offered."""
    await answer_query(update)
    place = Place.from_key(callback_arg(update).removeprefix("pl:"))
    if place is None or place.kind != draft(context).get("kind"):
        return await stale(update, context)
    return await _ask_month(update, context, place)


async def _ask_month(update: Update, context: Context, place: Place) -> int:
    draft(context)["place"] = place.key
    locale = await chat_locale(context, chat_id_of(update))
    await reply(
        update,
        context,
        "citizen/elsewhere_ask_month.html",
        nama=draft(context)["name"],
        place=place.name(locale),
        today=deps(context).today(),
    )
    return TYPING_MONTH


async def month_typed(update: Update, context: Context) -> int:
    """Month and year: not in the future, not before the person's birth; then why."""
    assert update.message is not None
    d, b = deps(context), draft(context)
    try:
        since = elsewhere.parse_month(update.message.text or "", born=b["born"], today=d.today())
    except DomainError as error:
        await refuse(update, context, error)
        return TYPING_MONTH
    b["since"] = since
    rows: list[Row] = [[(f"elsewhere_reason_{r}", f"dom:r:{r}") for r in REASONS[:2]]]
    rows += [[(f"elsewhere_reason_{r}", f"dom:r:{r}") for r in REASONS[2:]]]
    rows += [[("elsewhere_reason_none", "dom:r:none")]]
    await reply(update, context, "citizen/elsewhere_ask_reason.html", rows=rows, step=True)
    return CHOOSING


async def reason_chosen(update: Update, context: Context) -> int:
    """Why (or no answer): the summary to confirm."""
    await answer_query(update)
    reason = callback_arg(update).removeprefix("r:")
    b = draft(context)
    if "since" not in b or reason not in (*REASONS, "none"):
        return await stale(update, context)
    b["reason"] = None if reason == "none" else reason
    locale = await chat_locale(context, chat_id_of(update))
    place = Place.from_key(b["place"])
    assert place is not None
    rows: list[Row] = [[("elsewhere_send", "dom:ok"), ("booking_cancel", "dom:no")]]
    values = {
        "nama": b["name"],
        "place": place.name(locale),
        "since": b["since"],
        "reason": b["reason"],
    }
    await reply(update, context, "citizen/elsewhere_summary.html", rows=rows, step=True, **values)
    return CHOOSING


async def confirmed(update: Update, context: Context) -> int:
    """Store the report; say what it changes, with the office's rule for that place."""
    await answer_query(update)
    b = draft(context)
    if Place.from_key(b.get("place", "")) is None or "reason" not in b:
        return await stale(update, context)
    try:
        saved = await _save(deps(context), chat_id_of(update), b)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    (context.user_data or {}).pop(DRAFT, None)
    locale = await chat_locale(context, chat_id_of(update))
    values = {"nama": saved.nama, "place": saved.place.name(locale)}
    await reply(update, context, "citizen/elsewhere_saved.html", report=saved, **values)
    return ConversationHandler.END


async def _save(d: Deps, chat_id: int, b: dict[str, Any]) -> Report:
    """Store the drafted report as this chat's."""
    place = Place.from_key(b["place"])
    assert place is not None
    return await elsewhere.report(
        d.db,
        chat_id,
        b["nik"],
        place,
        since=b["since"],
        reason=b["reason"],
        today=d.today(),
        now=d.now(),
    )


async def withdraw(update: Update, context: Context) -> None:
    """`dom:rm:<report>`: withdraw the chat's report; then the list again."""
    await answer_query(update)
    d = deps(context)
    try:
        gone = await elsewhere.withdraw(
            d.db, chat_id_of(update), row_id(callback_arg(update)[3:]), now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await reply(update, context, "citizen/elsewhere_withdrawn.html", nama=gone.nama)
    await show(update, context)


async def declined(update: Update, context: Context) -> int:
    """The cancel button, or /batal (the step shown then loses its buttons)."""
    await answer_query(update)
    (context.user_data or {}).pop(DRAFT, None)
    await reply(update, context, "citizen/cancelled.html")
    await close_step(context, chat_id_of(update))
    return ConversationHandler.END


async def use_buttons(update: Update, context: Context) -> int | None:
    """Anything typed where a button is expected."""
    if DRAFT not in (context.user_data or {}):  # the person went on to another flow
        return hand_on(update, context)
    await reply(update, context, "citizen/booking_use_buttons.html")
    return None


async def timed_out(update: object, context: Context) -> None:
    """No answer within the conversation's timeout: forget the draft; the step loses its
    buttons."""
    (context.user_data or {}).pop(DRAFT, None)
    if isinstance(update, Update) and update.effective_chat is not None:
        await close_step(context, update.effective_chat.id)


def register(app: Application) -> None:
    """Add /domisili, its conversation and the withdraw button."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    buttons: list[BaseHandler[Any, Any, Any]] = [
        CallbackQueryHandler(on_step(kind_chosen), pattern=r"^dom:k:"),
        CallbackQueryHandler(on_step(place_chosen), pattern=r"^dom:pl:"),
        CallbackQueryHandler(on_step(reason_chosen), pattern=r"^dom:r:"),
        CallbackQueryHandler(on_step(confirmed), pattern=r"^dom:ok$"),
        CallbackQueryHandler(on_step(declined), pattern=r"^dom:no$"),
    ]
    entry: list[BaseHandler[Any, Any, Any]] = [
        CommandHandler("domisili", show, filters=private),
        CallbackQueryHandler(begin, pattern=r"^dom:go:"),
    ]
    app.add_handler(
        ConversationHandler(
            entry_points=entry,
            states={
                CHOOSING: buttons,
                TYPING_PLACE: [MessageHandler(text, place_typed), *buttons],
                TYPING_MONTH: [MessageHandler(text, month_typed), *buttons],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[
                CommandHandler("batal", declined, filters=private),
                *entry,
                MessageHandler(private & ~filters.COMMAND, use_buttons),
            ],
            conversation_timeout=timedelta(minutes=20),
            name="elsewhere",
        )
    )
    app.add_handler(CallbackQueryHandler(withdraw, pattern=r"^dom:rm:"))
