"""/laporan: the chat's damaged/lost card tickets with their state and history."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.context import Context, deps
from bot.errors import DomainError
from bot.handlers.common import refuse, reply
from bot.services import tickets


async def show(update: Update, context: Context) -> None:
    """All tickets (`/laporan`), or one by its number (`/laporan KR-7PX2MA`)."""
    assert update.effective_chat is not None
    d = deps(context)
    if context.args:
        try:
            number = " ".join(context.args)
            found = [await tickets.ticket_for_chat(d.db, number, update.effective_chat.id)]
        except DomainError as error:
            await refuse(update, context, error)
            return
    else:
        found = await tickets.chat_tickets(d.db, update.effective_chat.id)
    await reply(update, context, "citizen/tickets.html", tickets=found)


def register(app: Application) -> None:
    """Add /laporan."""
    app.add_handler(CommandHandler("laporan", show, filters=filters.ChatType.PRIVATE))
