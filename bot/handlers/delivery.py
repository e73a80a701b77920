"""A person who blocked the bot and writes to it again may receive messages again."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.handlers.common import Context, deps
from bot.services.outbox import unblock_chat_if_blocked

BEFORE_EVERYTHING = -1  # a handler group that runs before the others and lets them run


async def note_contact(update: Update, context: Context) -> None:
    """Any message or button press from a chat clears its 'blocked' mark."""
    chat = update.effective_chat
    if chat is None or update.effective_user is None:
        return
    if await unblock_chat_if_blocked(deps(context).db, chat.id):
        sender = context.bot_data.get("sender")
        if sender is not None:
            sender.wake()


def register(app: Application) -> None:
    """Watch every update, before the handlers that answer it."""
    app.add_handler(TypeHandler(Update, note_contact), group=BEFORE_EVERYTHING)
