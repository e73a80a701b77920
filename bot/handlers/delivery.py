"""Before any handler: a re-delivered update is dropped; a person who blocked the bot and
writes to it again may receive messages again."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import Context, deps
from bot.conversations import current_turn
from bot.handlers.common import HANDED_ON
from bot.services.outbox import unblock_chat_if_blocked
from bot.services.updates import first_time

FIRST = -2  # handler groups that run before the others
BEFORE_EVERYTHING = -1


async def once(update: Update, context: Context) -> None:
    """Telegram delivers an update again when its receipt was lost: handle it only once."""
    handed_on: set[int] = context.bot_data.get(HANDED_ON, set())
    if update.update_id in handed_on:  # our own second pass (hand_on), not Telegram's
        handed_on.discard(update.update_id)
        return
    turn = current_turn()
    if turn is not None:  # read with the conversations; recorded with the step's effects
        if turn.redelivered:
            raise ApplicationHandlerStop
        return
    d = deps(context)
    if not await first_time(d.db, update.update_id, now=d.now()):
        raise ApplicationHandlerStop


async def note_contact(update: Update, context: Context) -> None:
    """Any message or button press from a chat clears its 'blocked' mark."""
    chat = update.effective_chat
    if chat is None or update.effective_user is None:
        return
    turn = current_turn()  # its "blocked" mark was read with the conversations
    blocked = turn.blocked if turn is not None else None
    if await unblock_chat_if_blocked(deps(context).db, chat.id, blocked=blocked):
        if turn is not None:  # an update handed on in this turn finds it unblocked
            turn.blocked = False
        sender = context.bot_data.get("sender")
        if sender is not None:
            sender.wake()


def register(app: Application) -> None:
    """Watch every update, before the handlers that answer it."""
    app.add_handler(TypeHandler(Update, once), group=FIRST)
    app.add_handler(TypeHandler(Update, note_contact), group=BEFORE_EVERYTHING)
