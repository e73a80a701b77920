"""/start, /bantuan, the menu buttons, common questions, and input nobody expected."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import Context, deps
from bot.handlers import language, locations, my_bookings, my_reports, reminders
from bot.handlers.common import Row, callback_arg, refuse, reply, stale_choice
from bot.handlers.menus import publish_role_menu
from bot.services.directory import get_locale, get_user, list_service_points, note_chat
from bot.services.faq import match_topic
from bot.services.invites import INVITE_PREFIX, InviteInvalid, claim

MENU_ROWS: list[Row] = [
    [("menu_cek", "menu:cek"), ("menu_antre", "menu:antre")],
    [("menu_jadwal", "menu:jadwal"), ("menu_lapor", "menu:lapor")],
    [("menu_laporan", "menu:laporan"), ("menu_pengingat", "menu:pengingat")],
    [("menu_lokasi", "menu:lokasi"), ("menu_bantuan", "menu:bantuan")],
    [("menu_bahasa", "menu:bahasa")],
]


async def start(update: Update, context: Context) -> None:
    """Welcome with the menu; a deep-link payload jumps to that part."""
    payload = context.args[0] if context.args else ""
    if payload.startswith(INVITE_PREFIX):
        await claim_invitation(update, context, payload)
        return
    if payload in MENU_ACTIONS:
        await MENU_ACTIONS[payload](update, context)
        return
    await reply(update, context, "citizen/welcome.html", rows=MENU_ROWS)
    await _refresh_role_menu(update, context)


async def claim_invitation(update: Update, context: Context, payload: str) -> None:
    """`/start inv_<token>` in a private chat: the invited person gets the role, once."""
    d = deps(context)
    if update.effective_chat is None or update.effective_chat.type != "private":
        await reply(update, context, "citizen/invite_private_only.html")
        return
    assert update.effective_user is not None
    try:
        user = await claim(d.db, payload, update.effective_user.id, now=d.now())
    except InviteInvalid as refusal:
        await refuse(update, context, refusal)
        return
    await reply(update, context, "citizen/invite_claimed.html", user=user)
    await _refresh_role_menu(update, context)


async def help_command(update: Update, context: Context) -> None:
    """/bantuan: what the bot does and every command."""
    await reply(update, context, "citizen/help.html")


async def cancel_nothing(update: Update, context: Context) -> None:
    """/batal outside any step."""
    await reply(update, context, "citizen/nothing_to_cancel.html")


async def question(update: Update, context: Context) -> None:
    """Free text outside any step: the answer to a common question, else whom to ask and when."""
    assert update.effective_message is not None and update.effective_message.text is not None
    topic = match_topic(update.effective_message.text) or "contact"
    points = await list_service_points(deps(context).db)
    await reply(update, context, f"citizen/faq_{topic}.html", points=points)


async def unknown(update: Update, context: Context) -> None:
    """Text, media or a command the bot does not expect here."""
    await reply(update, context, "citizen/unknown_input.html")


async def stale_button(update: Update, context: Context) -> None:
    """A button the bot no longer knows (a finished or timed-out flow, a restart, forged data):
    say so, and take the buttons it came with away."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    await stale_choice(update, context)


async def menu_button(update: Update, context: Context) -> None:
    """A /start menu button: run the matching command."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    action = MENU_ACTIONS.get(callback_arg(update))
    if action is None:
        await reply(update, context, "citizen/error_stale_button.html")
        return
    await action(update, context)


async def _refresh_role_menu(update: Update, context: Context) -> None:
    """Staff, officials and admins get their command menu once they have written to the bot."""
    if update.effective_user is None:
        return
    d = deps(context)
    user = await get_user(d.db, update.effective_user.id)
    if user is not None:
        await note_chat(d.db, user.telegram_id, locale=d.settings.default_locale, now=d.now())
        locale = await get_locale(d.db, user.telegram_id)
        await publish_role_menu(context.bot, user, d.renderer, locale)


MENU_ACTIONS = {
    "bantuan": help_command,
    "lokasi": locations.show,
    "bahasa": language.choose,
    "pengingat": reminders.show,
    "jadwal": my_bookings.show,
    "laporan": my_reports.show,
}


def register(app: Application) -> None:
    """Add these handlers (after the feature modules, so they only catch what is left)."""
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("start", start, filters=private))
    app.add_handler(CommandHandler("bantuan", help_command, filters=private))
    app.add_handler(CommandHandler("batal", cancel_nothing, filters=private))
    app.add_handler(CallbackQueryHandler(menu_button, pattern=r"^menu:"))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, question))
    app.add_handler(MessageHandler(private, unknown))
    app.add_handler(CallbackQueryHandler(stale_button))
