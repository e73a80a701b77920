"""Edited messages are not new input: the step a person is in never reads one."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.context import Context
from bot.handlers.common import reply


async def edited(update: Update, context: Context) -> None:
    """A message edited after it was sent: in a private chat say to send it again; in a group
    nothing (the group guard answered the original, and edits there are not for the bot)."""
    chat = update.effective_chat
    if chat is not None and chat.type == chat.PRIVATE:
        await reply(update, context, "citizen/edit_not_read.html")


def register(app: Application) -> None:
    """Add the handler ahead of every flow, so no step takes an edit as its answer."""
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, edited))
