"""The outbox sender: claims due messages and records each one's outcome.

A plain function so that a PTB job (a `run_repeating` sweep) or a CLI can call it; pacing within
Telegram's limits is left to the caller's `limit` per sweep and to `AIORateLimiter` beneath.
"""

from __future__ import annotations

import json
import logging
import warnings
from datetime import datetime, timedelta

import aiosqlite
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.services import outbox
from bot.services.outbox import OutboxMessage

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply
_MARKUPS: dict[str, type[Markup]] = {
    "inline_keyboard": InlineKeyboardMarkup,
    "keyboard": ReplyKeyboardMarkup,
    "remove_keyboard": ReplyKeyboardRemove,
    "force_reply": ForceReply,
}


async def send_due(bot: Bot, db: aiosqlite.Connection, *, now: datetime, limit: int = 30) -> int:
    """Send up to `limit` due outbox messages; return how many were delivered."""
    blocked: set[int] = set()
    sent = 0
    for message in await outbox.claim_due(db, now=now, limit=limit):
        if message.chat_id in blocked:  # blocked earlier in this sweep
            await outbox.mark_blocked(db, message.id, message.chat_id, now)
            continue
        state = await _send_one(bot, db, message, now=now)
        sent += state == "sent"
        if state == "blocked":
            blocked.add(message.chat_id)
    return sent


async def _send_one(
    bot: Bot, db: aiosqlite.Connection, message: OutboxMessage, *, now: datetime
) -> str:
    """Send one claimed message, record the outcome and return the message's new state."""
    try:
        markup = _markup(message.reply_markup_json, bot)
        result = await bot.send_message(
            message.chat_id, message.text, parse_mode="HTML", reply_markup=markup
        )
    except Forbidden:
        await outbox.mark_blocked(db, message.id, message.chat_id, now)
        return "blocked"
    except RetryAfter as error:
        delay = _retry_after(error)
        return await outbox.mark_retry(db, message.id, now=now, delay=delay, error=str(error))
    except BadRequest as error:  # a subclass of NetworkError: check it first
        await outbox.mark_failed(db, message.id, str(error), now)
        return "failed"
    except NetworkError as error:  # timeouts, dropped connections, 5xx
        delay = backoff(message.attempts)
        return await outbox.mark_retry(db, message.id, now=now, delay=delay, error=str(error))
    except (TelegramError, ValueError) as error:
        log.warning("outbox message %s failed: %s", message.id, error)
        await outbox.mark_failed(db, message.id, str(error) or type(error).__name__, now)
        return "failed"
    await outbox.mark_sent(db, message.id, result.message_id, now)
    return "sent"


def backoff(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failed attempt: 2, 4, 8 ... seconds."""
    return timedelta(seconds=2 ** max(attempts, 1))


def _retry_after(error: RetryAfter) -> timedelta:
    """The flood-control wait as a timedelta, whatever PTB_TIMEDELTA says."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


def _markup(markup_json: str | None, bot: Bot) -> Markup | None:
    """The stored reply_markup JSON as a PTB object; ValueError if it is not one."""
    if markup_json is None:
        return None
    data = json.loads(markup_json)
    kind = next((key for key in _MARKUPS if isinstance(data, dict) and key in data), None)
    if kind is None:
        raise ValueError(f"unsupported reply_markup: {markup_json[:80]}")
    return _MARKUPS[kind].de_json(data, bot)
