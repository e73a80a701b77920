"""The one handler for errors no domain rule expected: log, apologise, never a stack trace."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import Context
from bot.handlers.common import reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    """Log the exception (not the update, which may hold a NIK) and apologise to the person."""
    log.error("unhandled error (%s)", type(context.error).__name__, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        await reply(update, context, "citizen/error_generic.html")
    except TelegramError:
        log.warning("could not send the apology")
