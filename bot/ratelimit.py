"""Pacing every message the bot sends within Telegram's limits, one budget for all senders.

Telegram allows about 30 messages a second overall, 1 a second to one chat and 20 a minute to one
group; past that it answers 429 with `retry_after`. One `Pacer` keeps that budget for the whole
process. Replies to a person (interactive) take the next free moment at once; the outbox sender
(background) only takes a moment that is free now, never reserving ahead, so a reply pressed in
the middle of a broadcast waits at most one interval, not behind the broadcast.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

PRIVATE_INTERVAL = 1.0  # seconds between background messages to one private chat
GROUP_WINDOW = 60.0  # seconds
GROUP_MESSAGES = 20  # per GROUP_WINDOW to one group
# Sends are spaced 1.5 % wider than the rate: 30 sends then span 1.015 s, so the milliseconds by
# which one request may reach Telegram later than the next never put 31 into one second.
SPACING_MARGIN = 1.015
_PRUNE_AT = 50_000  # forget per-chat bookkeeping older than needed beyond this many chats


class Pacer:
    """The process's sending budget. `rate` messages/second overall; 0 lifts the limits."""

    def __init__(
        self,
        rate: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next_any = 0.0  # the next free moment overall
        self._next_chat: dict[int, float] = {}  # private chats: next free moment (background)
        self._group_sent: dict[int, deque[float]] = {}  # groups: moments of the last sends
        self._paused_until = 0.0  # after a 429: nobody sends until then

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def pause(self, seconds: float) -> None:
        """Telegram asked us to wait (429 retry_after): hold every send that long."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        log.warning("Telegram flood control: pausing all sends for %.1f s", seconds)

    async def acquire(self, chat_id: int | None, *, background: bool) -> None:
        """Wait until a message to `chat_id` may go, and take that moment from the budget."""
        while (wait := self._wait(chat_id, background=background)) > 0:
            await self._sleep(wait)
        now = self._clock()
        moment = max(now, self._next_any)
        if self.limited:
            self._next_any = moment + SPACING_MARGIN / self.rate
            self._take_chat(chat_id, moment, background=background)
        if moment > now:  # an interactive reply takes the next free moment, even if reserved
            await self._sleep(moment - now)

    def chat_wait(self, chat_id: int) -> float:
        """Seconds until a background message to this chat is allowed by its own limit."""
        if not self.limited:
            return 0.0
        now = self._clock()
        if chat_id < 0:
            sent = self._group_sent.get(chat_id)
            if sent and len(sent) >= GROUP_MESSAGES:
                return max(0.0, sent[0] + GROUP_WINDOW - now)
            return 0.0
        return max(0.0, self._next_chat.get(chat_id, 0.0) - now)

    def _wait(self, chat_id: int | None, *, background: bool) -> float:
        now = self._clock()
        wait = self._paused_until - now
        if not self.limited:
            return wait
        if background:  # only a moment that is free now: replies must find the next one free
            wait = max(wait, self._next_any - now)
        if chat_id is None:
            return wait
        if chat_id < 0:
            sent = self._group_sent.get(chat_id)
            if sent and len(sent) >= GROUP_MESSAGES:
                wait = max(wait, sent[0] + GROUP_WINDOW - now)
        elif background:
            wait = max(wait, self._next_chat.get(chat_id, 0.0) - now)
        return wait

    def _take_chat(self, chat_id: int | None, moment: float, *, background: bool) -> None:
        if chat_id is None:
            return
        if chat_id < 0:
            sent = self._group_sent.setdefault(chat_id, deque(maxlen=GROUP_MESSAGES))
            sent.append(moment)
        elif background:
            self._next_chat[chat_id] = moment + PRIVATE_INTERVAL
        if len(self._next_chat) + len(self._group_sent) > _PRUNE_AT:
            self._prune(moment)

    def _prune(self, now: float) -> None:
        self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
        self._group_sent = {
            c: sent for c, sent in self._group_sent.items() if sent[-1] + GROUP_WINDOW > now
        }


PACED_ENDPOINTS = ("send", "copy", "forward", "edit")  # the calls that count as messages


class PacedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """PTB's hook around every Bot API call: replies go through the shared `Pacer`.

    Calls made with `rate_limit_args={"paced": True}` (the outbox sender, which paced itself)
    are not paced again; a 429 on them pauses everything and is raised for the sender to record.
    An interactive call that meets a 429 pauses everything and is retried up to `max_retries`.
    """

    def __init__(self, pacer: Pacer, *, max_retries: int = 3) -> None:
        self.pacer = pacer
        self.max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        paced_already = bool(rate_limit_args and rate_limit_args.get("paced"))
        counts = endpoint.startswith(PACED_ENDPOINTS)
        for attempt in range(self.max_retries + 1):
            if counts and not paced_already:
                await self.pacer.acquire(_chat_id(data), background=False)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                self.pacer.pause(retry_after_seconds(error))
                if paced_already or attempt == self.max_retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def retry_after_seconds(error: RetryAfter) -> float:
    """The flood-control wait in seconds, whatever PTB_TIMEDELTA says."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_id(data: dict[str, Any]) -> int | None:
    chat = data.get("chat_id")
    try:
        return int(chat) if chat is not None else None
    except (TypeError, ValueError):  # a @channel username: no per-chat bookkeeping
        return None
