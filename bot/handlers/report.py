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
    filters,
)

from bot.domain import DAMAGE_CAUSES
from bot.errors import CheckLocked, DomainError, InvalidNik
from bot.handlers.booking import known_people
from bot.handlers.common import HTML, Context, Row, callback_arg, chat_locale, deps, reply
from bot.handlers.notify import tell_staff_ticket
from bot.services import tickets
from bot.services.directory import get_resident, get_service_point
from bot.services.schedule import points_for_service
from bot.services.status import check_status

CHOOSING, DESCRIBING, ASKING_NIK, ASKING_KK, ATTACHING = range(5)
CAUSES = (*DAMAGE_CAUSES, "lost")


def draft(context: Context) -> dict[str, Any]:
    """The report being put together (on the server, never in buttons)."""
    assert context.user_data is not None
    return context.user_data.setdefault("report", {})


async def begin(update: Update, context: Context) -> int:
    """`/lapor` or the menu button: what happened to the card?"""
    if update.callback_query:
        await update.callback_query.answer()
    assert context.user_data is not None
    context.user_data["report"] = {}
    rows: list[Row] = [[(f"cause_{c}", f"tk:cause:{c}")] for c in CAUSES]
    await reply(update, context, "citizen/report_choose_cause.html", rows=rows)
    return CHOOSING


async def cause_chosen(update: Update, context: Context) -> int:
    """Damaged (with its cause) or lost; "other" asks for a short description first."""
    await _answer(update)
    cause = callback_arg(update).removeprefix("cause:")
    if cause not in CAUSES:
        return await _stale(update, context)
    draft(context).update(cause=cause, kind="lost" if cause == "lost" else "damaged")
    if cause == "other":
        await reply(update, context, "citizen/report_describe.html")
        return DESCRIBING
    return await _ask_person(update, context)


async def described(update: Update, context: Context) -> int:
    """The short description of an "other" damage."""
    assert update.message is not None
    draft(context)["description"] = update.message.text or ""
    return await _ask_person(update, context)


async def _ask_person(update: Update, context: Context) -> int:
    people = await known_people(update, context)
    draft(context)["people"] = [r.nik for r in people]
    d = deps(context)
    locale = await _locale(update, context)
    buttons = [
        [
            InlineKeyboardButton(
                d.renderer.label(locale, "person", resident=r), callback_data=f"tk:who:{i}"
            )
        ]
        for i, r in enumerate(people)
    ]
    new = d.renderer.label(locale, "person_new")
    buttons.append([InlineKeyboardButton(new, callback_data="tk:who:new")])
    await _send(update, context, "citizen/report_choose_person.html", InlineKeyboardMarkup(buttons))
    return CHOOSING


async def person_chosen(update: Update, context: Context) -> int:
    """A known person, or verify another one with NIK + KK."""
    await _answer(update)
    choice = callback_arg(update).removeprefix("who:")
    people = draft(context).get("people", [])
    if choice == "new":
        await reply(update, context, "citizen/check_ask_nik.html")
        return ASKING_NIK
    if not choice.isdigit() or int(choice) >= len(people) or "kind" not in draft(context):
        return await _stale(update, context)
    draft(context)["nik"] = people[int(choice)]
    return await _ask_file(update, context)


async def got_nik(update: Update, context: Context) -> int:
    """The NIK of a person not yet verified here."""
    assert update.message is not None
    draft(context)["typed_nik"] = update.message.text or ""
    await reply(update, context, "citizen/check_ask_kk.html")
    return ASKING_KK


async def got_kk(update: Update, context: Context) -> int:
    """Verify NIK + KK exactly like /cek."""
    assert update.message is not None and update.effective_user is not None
    d = deps(context)
    try:
        status = await check_status(
            d.db, update.effective_user.id, draft(context).get("typed_nik", ""),
            update.message.text or "", limit=d.settings.check_failures_per_hour,
            now=d.now(), today=d.today(),
        )  # fmt: skip
    except CheckLocked as error:
        await reply(update, context, error.template, **error.context)
        return ConversationHandler.END
    except InvalidNik as error:
        await reply(update, context, error.template, **error.context)
        return ASKING_KK if error.reason.startswith("kk_") else ASKING_NIK
    if status is None:
        await reply(update, context, "citizen/check_not_found.html")
        return ConversationHandler.END
    draft(context)["nik"] = status.resident.nik
    return await _ask_file(update, context)


async def _ask_file(update: Update, context: Context) -> int:
    lost = draft(context)["kind"] == "lost"
    rows: list[Row] = [] if lost else [[("report_skip_photo", "tk:skip")]]
    await reply(update, context, "citizen/report_ask_file.html", rows=rows, lost=lost)
    return ATTACHING


async def got_file(update: Update, context: Context) -> int:
    """A photo or a document: images or PDF only, at most 10 MB."""
    assert update.message is not None
    attachment = _attachment(update.message)
    try:
        tickets.check_attachment(attachment)
    except DomainError as error:
        await reply(update, context, error.template, **error.context)
        return ATTACHING
    draft(context)["attachment"] = attachment
    return await _ask_point(update, context)


async def skip_file(update: Update, context: Context) -> int:
    """No photo of a damaged card (allowed; a lost card's police report is not optional)."""
    await _answer(update)
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


async def use_buttons(update: Update, context: Context) -> int | None:
    """Anything typed where a button is expected."""
    await reply(update, context, "citizen/booking_use_buttons.html")
    return None


async def _ask_point(update: Update, context: Context) -> int:
    d = deps(context)
    resident = await get_resident(d.db, draft(context)["nik"])
    assert resident is not None
    points = await points_for_service(d.db, "rusak", home_kecamatan=resident.kode_desa[:6])
    locale = await _locale(update, context)
    buttons = [
        [
            InlineKeyboardButton(
                d.renderer.label(locale, "map_pin", point=p), callback_data=f"tk:pt:{p.code}"
            )
        ]
        for p in points
    ]
    await _send(update, context, "citizen/report_choose_point.html", InlineKeyboardMarkup(buttons))
    return CHOOSING


async def point_chosen(update: Update, context: Context) -> int:
    """Summarise and ask to confirm."""
    await _answer(update)
    d = deps(context)
    point = await get_service_point(d.db, callback_arg(update).removeprefix("pt:"))
    if point is None or "attachment" not in draft(context):
        return await _stale(update, context)
    draft(context)["point"] = point.code
    resident = await get_resident(d.db, draft(context)["nik"])
    rows: list[Row] = [[("report_send", "tk:ok"), ("booking_cancel", "tk:no")]]
    b = draft(context)
    await reply(
        update, context, "citizen/report_summary.html", rows=rows, point=point, resident=resident,
        cause=b["cause"], description=b.get("description"), attached=b["attachment"] is not None,
    )  # fmt: skip
    return CHOOSING


async def confirmed(update: Update, context: Context) -> int:
    """File the report; tell the citizen the ticket number and next steps; tell the staff."""
    await _answer(update)
    d = deps(context)
    b = draft(context)
    if "point" not in b:
        return await _stale(update, context)
    assert update.effective_chat is not None
    try:
        ticket = await tickets.report(
            d.db, chat_id=update.effective_chat.id, nik=b["nik"], kind=b["kind"],
            cause=b["cause"], description=b.get("description"), attachment=b["attachment"],
            point_code=b["point"], now=d.now(),
        )  # fmt: skip
    except DomainError as error:
        await reply(update, context, error.template, **error.context)
        return ConversationHandler.END
    (context.user_data or {}).pop("report", None)
    service = "hilang" if ticket.kind == "lost" else "rusak"
    point = await get_service_point(d.db, ticket.service_point)
    rows: list[Row] = [[("report_book_visit", f"bk:start:{service}")]]
    await reply(update, context, "citizen/report_filed.html", rows=rows, t=ticket, point=point)
    await tell_staff_ticket(context, ticket)
    return ConversationHandler.END


async def declined(update: Update, context: Context) -> int:
    """The summary's cancel button, or /batal."""
    await _answer(update)
    (context.user_data or {}).pop("report", None)
    await reply(update, context, "citizen/cancelled.html")
    return ConversationHandler.END


def _attachment(message: Message) -> tickets.Attachment:
    if message.photo:
        photo = message.photo[-1]
        return tickets.Attachment(photo.file_id, "photo", "image/jpeg", photo.file_size)
    doc = message.document
    assert doc is not None
    return tickets.Attachment(doc.file_id, "document", doc.mime_type, doc.file_size)


async def _answer(update: Update) -> None:
    if update.callback_query:
        await update.callback_query.answer()


async def _stale(update: Update, context: Context) -> int:
    await reply(update, context, "citizen/error_stale_button.html")
    return ConversationHandler.END


async def _locale(update: Update, context: Context) -> str:
    assert update.effective_chat is not None
    return await chat_locale(context, update.effective_chat.id)


async def _send(
    update: Update, context: Context, template: str, markup: InlineKeyboardMarkup
) -> None:
    assert update.effective_chat is not None
    text = deps(context).renderer.render(await _locale(update, context), template)
    await context.bot.send_message(
        update.effective_chat.id, text, parse_mode=HTML, reply_markup=markup
    )


def register(app: Application) -> None:
    """Add the /lapor conversation."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    buttons: list[BaseHandler[Any, Any, Any]] = [
        CallbackQueryHandler(cause_chosen, pattern=r"^tk:cause:"),
        CallbackQueryHandler(person_chosen, pattern=r"^tk:who:"),
        CallbackQueryHandler(point_chosen, pattern=r"^tk:pt:"),
        CallbackQueryHandler(confirmed, pattern=r"^tk:ok$"),
        CallbackQueryHandler(declined, pattern=r"^tk:no$"),
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
                ASKING_NIK: [MessageHandler(text, got_nik)],
                ASKING_KK: [MessageHandler(text, got_kk)],
                ATTACHING: [
                    MessageHandler(private & (filters.PHOTO | filters.Document.ALL), got_file),
                    CallbackQueryHandler(skip_file, pattern=r"^tk:skip$"),
                    MessageHandler(private & ~filters.COMMAND, wrong_input),
                ],
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
