"""Group chats: never answer a status there; point people to a private chat. An ordinary group
(not a staff group) gets at most one answer every few minutes (bot/services/group_gate.py)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context, chat_locale, deps
from bot.handlers.check import NIK_PATTERN
from bot.handlers.common import HTML, reply
from bot.services.group_gate import GroupGate, Verdict, is_exempt

SIXTEEN_DIGITS = r"(?<!\d)\d{16}(?!\d)"
GATE = "group_gate"  # bot_data: the GroupGate
# Before even the once-only check (bot/handlers/delivery.py): a dropped request costs no write.
GUARD = -3
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


async def guard(update: Update, context: Context) -> None:
    """A request from an ordinary group: answer it, drop it, or leave the group. The answer is
    never waited for: a group Telegram would make us wait for is dropped instead."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or chat.type not in GROUPS or not wants_answer(update, context):
        return
    d = deps(context)
    if await is_exempt(d.db, chat.id, user.id if user else None):
        return
    can_send = context.bot_data["pacer"].chat_wait(chat.id) == 0
    verdict = context.bot_data[GATE].decide(chat.id, now=d.now(), can_send=can_send)
    if verdict is Verdict.ANSWER:
        return
    if verdict is Verdict.LEAVE:
        if can_send:
            await reply(update, context, "citizen/group_leaving.html")
        await context.bot.leave_chat(chat.id)
    elif update.callback_query is not None:  # the presser alone reads why: nothing in the group
        locale = await chat_locale(context, chat.id)
        text = d.renderer.render(locale, "citizen/group_busy_alert.txt")
        await update.callback_query.answer(text, show_alert=True)
    raise ApplicationHandlerStop


def wants_answer(update: Update, context: Context) -> bool:
    """Whether a handler would take the update (an edit in a group is taken, never answered)."""
    if update.edited_message is not None:
        return False
    handlers = context.application.handlers
    return any(
        handler.check_update(update) not in (None, False)
        for group, in_group in handlers.items()
        if group >= 0
        for handler in in_group
    )


async def go_private(update: Update, context: Context) -> None:
    """Someone typed a NIK or /cek in a group: reply in the group with a private-chat button."""
    assert update.effective_chat is not None
    locale = await chat_locale(context, update.effective_chat.id)
    renderer = deps(context).renderer
    url = f"https://t.me/{context.bot.username}?start=cek"
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(renderer.label(locale, "open_private"), url=url)]]
    )
    text = renderer.render(locale, "citizen/group_use_private.html")
    await context.bot.send_message(
        update.effective_chat.id, text, parse_mode=HTML, reply_markup=markup
    )


def register(app: Application) -> None:
    """Add the group guards before everything else."""
    app.bot_data[GATE] = GroupGate()
    app.add_handler(TypeHandler(Update, guard), group=GUARD)
    groups = filters.ChatType.GROUPS
    looks_like_nik = filters.Regex(SIXTEEN_DIGITS) | filters.Regex(NIK_PATTERN)
    app.add_handler(CommandHandler("cek", go_private, filters=groups))
    app.add_handler(MessageHandler(groups & filters.TEXT & looks_like_nik, go_private))
