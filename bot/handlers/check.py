"""/cek: NIK, then KK number, then the resident's status; offer to link for reminders."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context, Deps, deps
from bot.errors import CheckLocked, DomainError, InvalidNik
from bot.handlers.common import (
    Row,
    answer_query,
    callback_arg,
    edit,
    offered,
    refuse,
    reply,
    stale_choice,
)
from bot.handlers.people import burst_alert, check_limits
from bot.services import links, verified
from bot.services.burst import ChecksSlowed
from bot.services.directory import get_resident
from bot.services.lockout import ensure_not_locked
from bot.services.status import Status, check_nik_format, check_status

ASKING_NIK, ASKING_KK = range(2)
NIK_PATTERN = r"^\s*\d[\d .\-]{14,30}\d\s*$"


async def begin(update: Update, context: Context) -> int:
    """Entry: `/cek`, `/cek NIK`, `/cek NIK KK`, the menu button, a deep link or a typed NIK."""
    await answer_query(update)
    args = [] if update.callback_query or _is_deep_link(update) else list(context.args or [])
    if update.message and not update.message.text.startswith("/"):  # type: ignore[union-attr]
        args = [update.message.text or ""]
    if len(args) >= 2:  # check_status refuses a locked account first, in the same words
        return await _answer(update, context, args[0], "".join(args[1:]))
    if not await _allowed_to_check(update, context):
        return ConversationHandler.END
    if len(args) == 1:
        return await _take_nik(update, context, args[0])
    await reply(update, context, "citizen/check_ask_nik.html")
    return ASKING_NIK


async def got_nik(update: Update, context: Context) -> int:
    """The NIK was typed."""
    assert update.message is not None
    return await _take_nik(update, context, update.message.text or "")


async def got_kk(update: Update, context: Context) -> int:
    """The KK number was typed: check and answer."""
    assert update.message is not None
    nik = context.user_data.get("check_nik", "") if context.user_data is not None else ""
    return await _answer(update, context, nik, update.message.text or "")


async def not_text(update: Update, context: Context) -> int | None:
    """A photo, sticker or the like where digits are expected."""
    await reply(update, context, "citizen/check_need_text.html")
    return None


async def cancel(update: Update, context: Context) -> int:
    """/batal inside the check."""
    _forget_draft(context)
    await reply(update, context, "citizen/cancelled.html")
    return ConversationHandler.END


async def _take_nik(update: Update, context: Context, text: str) -> int:
    d = deps(context)
    try:
        nik = check_nik_format(text, today=d.today())
    except DomainError as error:
        await refuse(update, context, error)
        return ASKING_NIK
    if context.user_data is not None:
        context.user_data["check_nik"] = nik
    await reply(update, context, "citizen/check_ask_kk.html")
    return ASKING_KK


async def _answer(update: Update, context: Context, nik: str, kk: str) -> int:
    d = deps(context)
    assert update.effective_user is not None
    try:
        status = await check_status(
            d.db,
            update.effective_user.id,
            nik,
            kk,
            limits=check_limits(d),
            alert=burst_alert(d),
            now=d.now(),
            today=d.today(),
        )
    except (CheckLocked, ChecksSlowed, InvalidNik) as error:
        return await _refused(update, context, nik, error)
    _forget_draft(context)
    if status is None:
        await reply(update, context, "citizen/check_not_found.html")
        return ConversationHandler.END
    await reply(
        update, context, "citizen/status.html", rows=_status_rows(context, status, d), s=status
    )
    return ConversationHandler.END


async def _refused(update: Update, context: Context, nik: str, error: DomainError) -> int:
    """Say why, then the next step: a lock ends the check; a burst or a wrong KK number asks for
    the KK number again (the NIK is kept); a wrong NIK asks for the NIK again."""
    await refuse(update, context, error)
    if isinstance(error, CheckLocked):
        _forget_draft(context)
        return ConversationHandler.END
    if isinstance(error, InvalidNik) and not error.reason.startswith("kk_"):
        return ASKING_NIK
    if context.user_data is not None:
        context.user_data["check_nik"] = nik
    return ASKING_KK


def _status_rows(context: Context, status: Status, d: Deps) -> list[Row]:
    """Buttons under a status answer; the verified NIK stays on the server behind a token."""
    token = verified.remember(context.user_data, status.resident.nik, now=d.now())
    rows: list[Row] = [
        [("link_nik", f"link:nik:{token}")],
        [("link_household", f"link:kk:{token}")],
    ]
    if status.can_book:
        rows.insert(0, [("book_recording", "menu:antre")])
    return rows


async def _allowed_to_check(update: Update, context: Context) -> bool:
    d = deps(context)
    assert update.effective_user is not None
    try:
        await ensure_not_locked(d.db, update.effective_user.id, check_limits(d), now=d.now())
    except CheckLocked as error:
        await refuse(update, context, error)
        return False
    return True


def _is_deep_link(update: Update) -> bool:
    text = update.message.text if update.message else ""
    return bool(text and text.startswith("/start"))


def _forget_draft(context: Context) -> None:
    if context.user_data is not None:
        context.user_data.pop("check_nik", None)


async def ask_consent(update: Update, context: Context) -> None:
    """A link button: explain what linking means and ask for explicit consent."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    kind, _, token = callback_arg(update).partition(":")
    if _verified_nik(context, token) is None or kind not in ("nik", "kk"):
        await reply(update, context, "citizen/error_stale_button.html")
        return
    rows: list[Row] = [[("consent_yes", f"consent:{kind}:{token}"), ("consent_no", "consent:no")]]
    await reply(update, context, "citizen/link_consent.html", rows=rows, household=kind == "kk")


async def consent(update: Update, context: Context) -> None:
    """Consent given (or declined): link the verified NIK or its household to this chat."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    kind, _, token = callback_arg(update).partition(":")
    if not offered(update):  # the question was answered already
        await stale_choice(update, context)
        return
    if kind == "no":
        await edit(update, context, "citizen/link_declined.html")
        return
    nik = _verified_nik(context, token)
    d = deps(context)
    resident = await get_resident(d.db, nik) if nik else None
    if resident is None:
        await edit(update, context, "citizen/error_stale_button.html")
        return
    household = kind == "kk"
    new = await links.link_chat(
        d.db, update.effective_chat.id, resident, household=household, now=d.now()
    )
    await edit(update, context, "citizen/linked.html", new=new, household=household)


def _verified_nik(context: Context, token: str) -> str | None:
    """The NIK verified behind a button token, if still fresh."""
    return verified.nik_for(context.user_data, token, now=deps(context).now())


def register(app: Application) -> None:
    """Add the /cek conversation and the link buttons."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    conversation = ConversationHandler(
        entry_points=[
            CommandHandler("cek", begin, filters=private),
            CommandHandler("start", begin, filters=private & filters.Regex(r"^/start cek$")),
            CallbackQueryHandler(begin, pattern=r"^menu:cek$"),
            MessageHandler(private & filters.Regex(NIK_PATTERN), begin),
        ],
        states={
            ASKING_NIK: [MessageHandler(text, got_nik)],
            ASKING_KK: [MessageHandler(text, got_kk)],
        },
        fallbacks=[
            CommandHandler("batal", cancel, filters=private),
            CommandHandler("cek", begin, filters=private),  # start over
            CallbackQueryHandler(begin, pattern=r"^menu:cek$"),
            MessageHandler(private & ~filters.COMMAND, not_text),
        ],
        conversation_timeout=timedelta(minutes=10),
        name="check",
    )
    app.add_handler(conversation)
    app.add_handler(CallbackQueryHandler(ask_consent, pattern=r"^link:"))
    app.add_handler(CallbackQueryHandler(consent, pattern=r"^consent:"))
