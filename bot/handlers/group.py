"""Group chats: never answer a status there; point people to a private chat."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.context import Context, chat_locale, deps
from bot.handlers.check import NIK_PATTERN
from bot.handlers.common import HTML

SIXTEEN_DIGITS = r"(?<!\d)\d{16}(?!\d)"


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
    """Add the group guard before everything else."""
    groups = filters.ChatType.GROUPS
    looks_like_nik = filters.Regex(SIXTEEN_DIGITS) | filters.Regex(NIK_PATTERN)
    app.add_handler(CommandHandler("cek", go_private, filters=groups))
    app.add_handler(MessageHandler(groups & filters.TEXT & looks_like_nik, go_private))
