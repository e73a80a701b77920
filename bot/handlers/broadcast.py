"""/siaran: template → (drive | text) → audience → preview and count → confirm.

The draft lives on the server (user_data); buttons only name a choice. Every step asks the
role guard again, and the area always comes from the account's role, never from the draft.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context, chat_locale, deps
from bot.domain import Drive, RoleUser
from bot.errors import DomainError
from bot.handlers.common import (
    HTML,
    Row,
    answer_query,
    callback_arg,
    chat_id_of,
    refuse,
    reply,
    requires_role,
    send_markup,
    stale,
    typed_text,
)
from bot.rendering import LOCALES
from bot.services import broadcasts, drives
from bot.services.broadcasts import AUDIENCES, TEMPLATES, Draft
from bot.services.cycle import cycle_in_force
from bot.services.roles import authorize
from bot.views.drive_desk import book_button, drive_choices

CHOOSING, TYPING_TEXT = range(2)
END = ConversationHandler.END


def draft(context: Context) -> dict[str, Any]:
    """The broadcast being composed (on the server, never in buttons)."""
    assert context.user_data is not None
    return context.user_data.setdefault("broadcast", {})


# Every step asks the guard again; a refusal drops the draft and ends the flow.
by_author = requires_role("siaran", refused=END, drop="broadcast")


@by_author
async def begin(update: Update, context: Context, user: RoleUser) -> int:
    """/siaran: today's count, the latest broadcasts' delivery figures, then the templates."""
    d = deps(context)
    assert context.user_data is not None
    context.user_data["broadcast"] = {}
    quota = await broadcasts.quota(d.db, user, now=d.now())
    rows: list[Row] = [[(f"broadcast_{t}", f"sr:t:{t}")] for t in TEMPLATES]
    await reply(
        update,
        context,
        "official/broadcast_start.html",
        rows=rows if quota.left != 0 else None,
        area=await broadcasts.scope_area(d.db, user),
        quota=quota,
        recent=await broadcasts.recent(d.db, user),
    )
    if quota.left == 0:
        return await _refused(update, context, broadcasts.LimitReached(**_limit(quota)))
    return CHOOSING


@by_author
async def template_chosen(update: Update, context: Context, user: RoleUser) -> int:
    """A template: the mobile recording asks which drive, free text for the text."""
    kind = callback_arg(update).removeprefix("t:")
    if kind not in TEMPLATES or context.user_data is None or "broadcast" not in context.user_data:
        return await stale(update, context)
    context.user_data["broadcast"] = {"template": kind}
    if kind == "mobile":
        return await _ask_drive(update, context, user)
    if kind == "free":
        max_length = broadcasts.MAX_TEXT
        await reply(update, context, "official/broadcast_ask_text.html", max_length=max_length)
        return TYPING_TEXT
    return await _ask_audience(update, context, user)


async def _ask_drive(update: Update, context: Context, user: RoleUser) -> int:
    """The planned drives of the author's area as buttons; none: say so and end."""
    d = deps(context)
    found = await broadcasts.drives_to_announce(d.db, user, today=d.today())
    area = await broadcasts.scope_area(d.db, user)
    if not found:
        (context.user_data or {}).pop("broadcast", None)
        await reply(update, context, "official/broadcast_no_drive.html", area=area)
        return END
    locale = await chat_locale(context, chat_id_of(update))
    markup = drive_choices(d.renderer, locale, found)
    await send_markup(update, context, "official/broadcast_choose_drive.html", markup, area=area)
    return CHOOSING


@by_author
async def drive_chosen(update: Update, context: Context, user: RoleUser) -> int:
    """`sr:d:<code>`: a drive of the author's area (checked again here: a drive of another
    area, cancelled or over is refused politely and ends the flow)."""
    code = callback_arg(update).removeprefix("d:")
    b = draft(context)
    if b.get("template") != "mobile":
        return await stale(update, context)
    d = deps(context)
    try:
        drive = await broadcasts.drive_to_announce(d.db, user, code, now=d.now())
    except DomainError as error:
        (context.user_data or {}).pop("broadcast", None)
        return await _refused(update, context, error)
    b["drive"] = drive.code
    return await _ask_audience(update, context, user)


@by_author
async def got_text(update: Update, context: Context, user: RoleUser) -> int:
    """Free text, at most MAX_TEXT characters; longer is refused with its length."""
    try:
        draft(context)["text"] = broadcasts.check_text(typed_text(update))
    except DomainError as error:
        await refuse(update, context, error)
        return TYPING_TEXT
    return await _ask_audience(update, context, user)


async def _ask_audience(update: Update, context: Context, user: RoleUser) -> int:
    drive = await _drive(context, user, draft(context))
    area = await broadcasts.scope_area(deps(context).db, user, drive)
    rows: list[Row] = [[(f"audience_{a}", f"sr:a:{a}")] for a in AUDIENCES]
    await reply(update, context, "official/broadcast_choose_audience.html", rows=rows, area=area)
    return CHOOSING


@by_author
async def audience_chosen(update: Update, context: Context, user: RoleUser) -> int:
    """The preview (exactly what recipients read) and the recipient count; confirm or cancel."""
    audience = callback_arg(update).removeprefix("a:")
    b = draft(context)
    if audience not in AUDIENCES or not _complete(b):
        return await stale(update, context)
    try:
        drive, figures = await _preview(context, user, audience, b)
    except DomainError as error:
        return await _refused(update, context, error)
    if figures.count == 0:
        await _refused(update, context, broadcasts.NoRecipients())
        return await _ask_audience(update, context, user)
    b["audience"] = audience
    await _show_message(update, context, user, _draft(b, drive))
    rows: list[Row] = [[("broadcast_send", "sr:ok"), ("broadcast_cancel", "sr:no")]]
    await reply(
        update,
        context,
        "official/broadcast_confirm.html",
        rows=rows,
        audience=audience,
        count=figures.count,
        area=figures.area,
        held_until=figures.held_until,
    )
    return CHOOSING


async def _preview(
    context: Context, user: RoleUser, audience: str, b: dict[str, Any]
) -> tuple[Drive | None, broadcasts.Preview]:
    """The draft's drive (checked again) and the figures of the preview."""
    d = deps(context)
    drive = await _drive(context, user, b)
    quiet = d.settings.quiet_hours
    return drive, await broadcasts.preview(
        d.db, user, audience, now=d.now(), quiet=quiet, drive=drive
    )


@by_author
async def confirmed(update: Update, context: Context, user: RoleUser) -> int:
    """Record the broadcast and queue its messages; the delivery report follows when done."""
    b = draft(context)
    if "audience" not in b or not _complete(b):
        return await stale(update, context)
    d = deps(context)
    try:
        composed = _draft(b, await _drive(context, user, b))
        sent = await broadcasts.send(
            d.db,
            user,
            composed,
            await _texts(context, user, composed),
            default_locale=d.settings.default_locale,
            now=d.now(),
            quiet=d.settings.quiet_hours,
            markups=_markups(context, composed),
        )
    except DomainError as error:
        return await _refused(update, context, error)
    (context.user_data or {}).pop("broadcast", None)
    await reply(update, context, "official/broadcast_sent.html", sent=sent)
    sender = context.bot_data.get("sender")
    if sender is not None:
        sender.wake()
    return END


async def declined(update: Update, context: Context) -> int:
    """The cancel button, or /batal."""
    await answer_query(update)
    (context.user_data or {}).pop("broadcast", None)
    await reply(update, context, "citizen/cancelled.html")
    return END


async def use_buttons(update: Update, context: Context) -> None:
    """Something typed where a button is expected."""
    await reply(update, context, "citizen/booking_use_buttons.html")


async def outside_flow(update: Update, context: Context) -> None:
    """A broadcast button with no /siaran in progress (an old message, or data forged by
    someone without the role): "old button"; the press still goes to the guard, so a
    refusal is in the audit log."""
    await answer_query(update)
    assert update.effective_user is not None
    d = deps(context)
    with contextlib.suppress(DomainError):
        await authorize(d.db, update.effective_user.id, "siaran", now=d.now())
    await stale(update, context)


@requires_role("siaran", drop="broadcast")
async def use_private(update: Update, context: Context, user: RoleUser) -> None:
    """/siaran in a group: after the role check, ask for a private chat."""
    await reply(update, context, "official/use_private.html")


async def _show_message(update: Update, context: Context, user: RoleUser, composed: Draft) -> None:
    """The message exactly as recipients read it, in the author's language."""
    locale = await chat_locale(context, chat_id_of(update))
    texts = await _texts(context, user, composed)
    markup = _book_button(context, composed, locale)
    await context.bot.send_message(
        chat_id_of(update), texts[locale], parse_mode=HTML, reply_markup=markup
    )


async def _texts(context: Context, user: RoleUser, composed: Draft) -> dict[str, str]:
    """The message in every language: the preview is the author's, recipients get theirs."""
    d = deps(context)
    area = await broadcasts.scope_area(d.db, user)
    cycle = cycle_in_force(d.today())
    return {
        locale: d.renderer.render(
            locale, "official/broadcast_message.html", draft=composed, area=area, cycle=cycle
        )
        for locale in LOCALES
    }


def _book_button(context: Context, composed: Draft, locale: str) -> InlineKeyboardMarkup | None:
    """An invitation to a drive: the button that opens the booking there (a deep link)."""
    if composed.drive is None:
        return None
    link = drives.deep_link(context.bot.username, composed.drive)
    return book_button(deps(context).renderer, locale, link)


def _markups(context: Context, composed: Draft) -> dict[str, str] | None:
    """The invitation's button in every language, as the outbox stores it."""
    buttons = {locale: _book_button(context, composed, locale) for locale in LOCALES}
    return {locale: m.to_json() for locale, m in buttons.items() if m} or None


async def _drive(context: Context, user: RoleUser, b: dict[str, Any]) -> Drive | None:
    """The draft's drive, checked again (still planned, not over, in the author's area)."""
    if "drive" not in b:
        return None
    d = deps(context)
    return await broadcasts.drive_to_announce(d.db, user, b["drive"], now=d.now())


async def _refused(update: Update, context: Context, error: DomainError) -> int:
    await refuse(update, context, error)
    return END


def _limit(quota: broadcasts.Quota) -> dict[str, Any]:
    return {"until": quota.until, "limit": quota.limit}


def _complete(b: dict[str, Any]) -> bool:
    """The draft has its template and everything that template needs."""
    needs = {"mobile": ("drive",), "free": ("text",)}.get(b.get("template", ""), ())
    return b.get("template") in TEMPLATES and all(key in b for key in needs)


def _draft(b: dict[str, Any], drive: Drive | None) -> Draft:
    return Draft(b["template"], b["audience"], drive, b.get("text"))


def register(app: Application) -> None:
    """Add the /siaran conversation (before the handlers that read typed NIKs)."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    buttons: list[BaseHandler[Any, Any, Any]] = [
        CallbackQueryHandler(template_chosen, pattern=r"^sr:t:"),
        CallbackQueryHandler(drive_chosen, pattern=r"^sr:d:"),
        CallbackQueryHandler(audience_chosen, pattern=r"^sr:a:"),
        CallbackQueryHandler(confirmed, pattern=r"^sr:ok$"),
        CallbackQueryHandler(declined, pattern=r"^sr:no$"),
    ]
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("siaran", begin, filters=private)],
            states={
                CHOOSING: buttons,
                TYPING_TEXT: [MessageHandler(text, got_text), *buttons],
            },
            fallbacks=[
                CommandHandler("batal", declined, filters=private),
                CommandHandler("siaran", begin, filters=private),
                MessageHandler(private & ~filters.COMMAND, use_buttons),
            ],
            conversation_timeout=timedelta(minutes=30),
            name="broadcast",
        )
    )
    app.add_handler(CallbackQueryHandler(outside_flow, pattern=r"^sr:"))
    app.add_handler(CommandHandler("siaran", use_private, filters=filters.ChatType.GROUPS))
