"""/lapor: what happened → (description) → person → photo or police report → place → confirm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
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
from bot.domain import DAMAGE_CAUSES, Ticket
from bot.errors import DomainError
from bot.handlers import people
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
    send_markup,
    stale,
)
from bot.handlers.notify import tell_staff_ticket
from bot.services import tickets
from bot.services.directory import get_resident, get_service_point
from bot.services.schedule import points_for_service

CHOOSING, DESCRIBING, ATTACHING = range(3)
CAUSES = (*DAMAGE_CAUSES, "lost")


def draft(context: Context) -> dict[str, Any]:
    """The report being put together (on the server, never in buttons)."""
    assert context.user_data is not None
    return context.user_data.setdefault("report", {})


async def begin(update: Update, context: Context) -> int:
    """`/lapor` or the menu button: what happened to the card?"""
    await answer_query(update)
    assert context.user_data is not None
    context.user_data.pop("booking", None)  # one flow at a time
    context.user_data["report"] = {}
    rows: list[Row] = [[(f"cause_{c}", f"tk:cause:{c}")] for c in CAUSES]
    await reply(update, context, "citizen/report_choose_cause.html", rows=rows, step=True)
    return CHOOSING


async def cause_chosen(update: Update, context: Context) -> int:
    """Damaged (with its cause) or lost; "other" asks for a short description first."""
    await answer_query(update)
    cause = callback_arg(update).removeprefix("cause:")
    if cause not in CAUSES:
        return await stale(update, context)
    b = draft(context)
    for later in ("description", "nik", "attachment", "point"):  # an old button starts over
        b.pop(later, None)
    b.update(cause=cause, kind="lost" if cause == "lost" else "damaged")
    if cause == "other":
        await reply(update, context, "citizen/report_describe.html")
        return DESCRIBING
    return await _ask_person(update, context)


async def described(update: Update, context: Context) -> int:
    """The short description of an "other" damage; too short or too long is asked again."""
    assert update.message is not None
    try:
        draft(context)["description"] = tickets.check_description(update.message.text or "")
    except DomainError as error:
        await refuse(update, context, error)
        return DESCRIBING
    return await _ask_person(update, context)


async def _ask_person(update: Update, context: Context) -> int:
    template = "citizen/report_choose_person.html"
    await people.ask_person(update, context, draft(context), prefix="tk", template=template)
    return CHOOSING


async def person_chosen(update: Update, context: Context) -> int:
    """A known person, or verify another one with NIK + KK."""
    await answer_query(update)
    if "kind" not in draft(context):
        return await stale(update, context)
    choice = callback_arg(update).removeprefix("who:")
    state = await people.choose(update, context, draft(context), choice)
    return state if state is not None else await _ask_file(update, context)


async def _ask_file(update: Update, context: Context) -> int:
    """Ask for the photo or police report, unless the person already has a report in progress."""
    assert update.effective_chat is not None
    try:
        nik = draft(context)["nik"]
        await tickets.ensure_no_open_ticket(deps(context).db, nik, chat_id=update.effective_chat.id)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    return await _ask_for_file(update, context)


async def got_nik(update: Update, context: Context) -> int:
    """The NIK of a person not yet verified here."""
    return await people.got_nik(update, context, draft(context))


async def got_kk(update: Update, context: Context) -> int:
    """Verify NIK + KK exactly like /cek."""
    state = await people.verify(update, context, draft(context))
    return state if state is not None else await _ask_file(update, context)


async def _ask_for_file(update: Update, context: Context) -> int:
    lost = draft(context)["kind"] == "lost"
    rows: list[Row] = [] if lost else [[("report_skip_photo", "tk:skip")]]
    await reply(update, context, "citizen/report_ask_file.html", rows=rows, lost=lost, step=True)
    return ATTACHING


async def got_file(update: Update, context: Context) -> int:
    """A photo or a document: images or PDF only, at most 10 MB."""
    assert update.message is not None
    attachment = _attachment(update.message)
    try:
        tickets.check_attachment(attachment)
    except DomainError as error:
        await refuse(update, context, error)
        return ATTACHING
    draft(context)["attachment"] = attachment
    return await _ask_point(update, context)


async def skip_file(update: Update, context: Context) -> int:
    """No photo of a damaged card (allowed; a lost card's police report is not optional)."""
    await answer_query(update)
    if draft(context).get("kind") != "damaged":
        await reply(update, context, "citizen/ticket_error.html", kind="police_report")
        return ATTACHING
    draft(context)["attachment"] = None
    return await _ask_point(update, context)


async def wrong_input(update: Update, context: Context) -> int | None:
    """Text, a sticker or a video where a photo or PDF is expected."""
    await reply(
        update, context, "citizen/report_need_file.html", lost=draft(context).get("kind") == "lost"
    )
    return None


async def stale_button(update: Update, context: Context) -> int:
    """A button of an earlier step while the file is awaited."""
    await answer_query(update)
    return await stale(update, context)


async def use_buttons(update: Update, context: Context) -> int | None:
    """Anything typed where a button is expected."""
    if "report" not in (context.user_data or {}):  # the person went on to another flow
        return hand_on(update, context)
    await reply(update, context, "citizen/booking_use_buttons.html")
    return None


async def _ask_point(update: Update, context: Context) -> int:
    d = deps(context)
    resident = await get_resident(d.db, draft(context)["nik"])
    assert resident is not None
    service = "hilang" if draft(context)["kind"] == "lost" else "rusak"
    points = await points_for_service(d.db, service, home_kecamatan=resident.kode_desa[:6])
    locale = await chat_locale(context, chat_id_of(update))
    buttons = [
        [
            InlineKeyboardButton(
                d.renderer.label(locale, "map_pin", point=p), callback_data=f"tk:pt:{p.code}"
            )
        ]
        for p in points
    ]
    await send_markup(
        update,
        context,
        "citizen/report_choose_point.html",
        InlineKeyboardMarkup(buttons),
        step=True,
    )
    return CHOOSING


async def point_chosen(update: Update, context: Context) -> int:
    """Summarise and ask to confirm."""
    await answer_query(update)
    d = deps(context)
    point = await get_service_point(d.db, callback_arg(update).removeprefix("pt:"))
    if point is None or "attachment" not in draft(context):
        return await stale(update, context)
    draft(context)["point"] = point.code
    resident = await get_resident(d.db, draft(context)["nik"])
    rows: list[Row] = [[("report_send", "tk:ok"), ("booking_cancel", "tk:no")]]
    b = draft(context)
    await reply(
        update,
        context,
        "citizen/report_summary.html",
        rows=rows,
        point=point,
        resident=resident,
        cause=b["cause"],
        description=b.get("description"),
        attached=b["attachment"] is not None,
        step=True,
    )
    return CHOOSING


async def confirmed(update: Update, context: Context) -> int:
    """File the report; tell the citizen the ticket number and next steps; tell the staff."""
    await answer_query(update)
    d = deps(context)
    b = draft(context)
    if "point" not in b:
        return await stale(update, context)
    try:
        ticket = await _file(d, chat_id_of(update), b)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    (context.user_data or {}).pop("report", None)
    service = "hilang" if ticket.kind == "lost" else "rusak"
    point = await get_service_point(d.db, ticket.service_point)
    rows: list[Row] = [[("report_book_visit", f"bk:start:{service}")]]
    await reply(update, context, "citizen/report_filed.html", rows=rows, t=ticket, point=point)
    await tell_staff_ticket(context, ticket)
    return ConversationHandler.END


async def _file(d: Deps, chat_id: int, b: dict[str, Any]) -> Ticket:
    """File the drafted report as a ticket of this chat."""
    return await tickets.report(
        d.db,
        chat_id=chat_id,
        nik=b["nik"],
        kind=b["kind"],
        cause=b["cause"],
        description=b.get("description"),
        attachment=b["attachment"],
        point_code=b["point"],
        now=d.now(),
    )


async def declined(update: Update, context: Context) -> int:
    """The summary's cancel button, or /batal (the step shown then loses its buttons)."""
    await answer_query(update)
    (context.user_data or {}).pop("report", None)
    await reply(update, context, "citizen/cancelled.html")
    await close_step(context, chat_id_of(update))
    return ConversationHandler.END


async def timed_out(update: object, context: Context) -> None:
    """No answer within the conversation's timeout: forget the draft; the step loses its
    buttons."""
    (context.user_data or {}).pop("report", None)
    if isinstance(update, Update) and update.effective_chat is not None:
        await close_step(context, update.effective_chat.id)


def _attachment(message: Message) -> tickets.Attachment:
    if message.photo:
        photo = message.photo[-1]
        return tickets.Attachment(photo.file_id, "photo", "image/jpeg", photo.file_size)
    doc = message.document
    assert doc is not None
    return tickets.Attachment(doc.file_id, "document", doc.mime_type, doc.file_size)


def register(app: Application) -> None:
    """Add the /lapor conversation."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    buttons: list[BaseHandler[Any, Any, Any]] = [
        CallbackQueryHandler(on_step(cause_chosen), pattern=r"^tk:cause:"),
        CallbackQueryHandler(on_step(person_chosen), pattern=r"^tk:who:"),
        CallbackQueryHandler(on_step(point_chosen), pattern=r"^tk:pt:"),
        CallbackQueryHandler(on_step(confirmed), pattern=r"^tk:ok$"),
        CallbackQueryHandler(on_step(declined), pattern=r"^tk:no$"),
    ]
    app.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("lapor", begin, filters=private),
                CallbackQueryHandler(begin, pattern=r"^menu:lapor$"),
            ],
            states={
                CHOOSING: buttons,
                DESCRIBING: [MessageHandler(text, described)],
                people.ASKING_NIK: [MessageHandler(text, got_nik)],
                people.ASKING_KK: [MessageHandler(text, got_kk)],
                ATTACHING: [
                    MessageHandler(private & (filters.PHOTO | filters.Document.ALL), got_file),
                    CallbackQueryHandler(on_step(skip_file), pattern=r"^tk:skip$"),
                    CallbackQueryHandler(stale_button, pattern=r"^tk:"),
                    MessageHandler(private & ~filters.COMMAND, wrong_input),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[
                CommandHandler("batal", declined, filters=private),
                CommandHandler("lapor", begin, filters=private),
                CallbackQueryHandler(begin, pattern=r"^menu:lapor$"),
                MessageHandler(private & ~filters.COMMAND, use_buttons),
            ],
            conversation_timeout=timedelta(minutes=20),
            name="report",
        )
    )
