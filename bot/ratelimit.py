"""Pacing every message the bot sends within Telegram's limits, one budget for all senders.

Telegram allows about 30 messages a second overall, 1 a second to one chat and 20 a minute to one
group; past that it answers 429 with `retry_after`. One `Pacer` keeps that budget for the whole
process. Replies to a person (interactive) take the next free moment at once; the outbox sender
(background) only takes a moment that is free now, never reserving ahead, so a reply pressed in
the middle of a broadcast waits at most one interval, not behind the broadcast.

A 429 holds the chat it answered, and only that chat, for its `retry_after`: one chat past its
own limit (a group past 20 a minute, a person flooding their own chat) says nothing about the
others. 429s for several chats within a few seconds mean the bot as a whole is over Telegram's
limit: then the outbox pauses for the `retry_after`, and replies to people wait at most a second.
A wait only ever holds the task that sends (other chats' updates run beside it, see
bot/update_lines.py); nothing here takes a lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, Protocol

from telegram.error import BadRequest, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.services.send_budget import LATE_START

log = logging.getLogger(__name__)

PRIVATE_INTERVAL = 1.0  # seconds between background messages to one private chat
GROUP_WINDOW = 60.0  # seconds
GROUP_MESSAGES = 20  # per GROUP_WINDOW to one group
# Sends are spaced 1.5 % wider than the rate: 30 sends then span 1.015 s, so the milliseconds by
# which one request may reach Telegram later than the next never put 31 into one second.
SPACING_MARGIN = 1.015
_PRUNE_AT = 50_000  # forget per-chat bookkeeping older than needed beyond this many chats
# 429s for this many different chats within FLOOD_SIGNAL_WINDOW: the whole bot is over the limit.
FLOOD_SIGNAL_CHATS = 3
FLOOD_SIGNAL_WINDOW = 5.0  # seconds
MAX_REPLY_PAUSE = 1.0  # seconds a flood signal of the whole bot may delay a reply to a person


MIN_ASK = 0.005  # seconds at least between two asks of a shared budget that said "not yet"


class SharedBudget(Protocol):
    """The moments to send at, shared with other processes (several workers, bot/workers.py;
    the rule: bot/services/send_budget.py)."""

    async def take(self, *, background: bool) -> tuple[int | None, float]:
        """A grant and the seconds until its moment; or (None, seconds to ask again after).
        `background` (the outbox): only a moment that is free now."""

    async def done(self, grant: int) -> None:
        """The grant's message was answered by Telegram (or is not sent after all)."""


class Pacer:
    """The process's sending budget. `rate` messages/second overall; 0 lifts the limits (a 429
    is still honoured). With `shared` (several workers on one database) the overall moments
    come from there, so `rate` holds for all the workers together; per-chat and per-group
    limits stay the process's (a chat is with one worker at a time, the outbox with one)."""

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
        self._held: dict[int, float] = {}  # chats answered 429: nothing goes to them until then
        self._floods: deque[tuple[float, int | None]] = deque()  # recent 429s: (moment, chat)
        self._outbox_paused_until = 0.0  # after a flood signal of the whole bot
        self._replies_paused_until = 0.0  # the same, at most MAX_REPLY_PAUSE ahead
        self.shared: SharedBudget | None = None
        self._background_turn = asyncio.Lock()
        self._reply_turn = asyncio.Lock()

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def flooded(self, chat_id: int | None, seconds: float) -> None:
        """Telegram answered a send to `chat_id` with 429, `retry_after` = `seconds`.

        That chat waits `seconds`. 429s for FLOOD_SIGNAL_CHATS different chats (or one for a call
        without a chat) within FLOOD_SIGNAL_WINDOW mean the whole bot is over the limit: then the
        outbox pauses `seconds`, and replies to people at most MAX_REPLY_PAUSE."""
        now = self._clock()
        if chat_id is not None:
            self._held[chat_id] = max(self._held.get(chat_id, 0.0), now + seconds)
            if len(self._held) > _PRUNE_AT:
                self._prune(now)
        self._floods.append((now, chat_id))
        while self._floods[0][0] < now - FLOOD_SIGNAL_WINDOW:
            self._floods.popleft()
        chats = {chat for _moment, chat in self._floods}
        if chat_id is not None and len(chats) < FLOOD_SIGNAL_CHATS:
            log.warning("Telegram flood control: holding one chat for %.1f s", seconds)
            return
        self._outbox_paused_until = max(self._outbox_paused_until, now + seconds)
        pause = min(seconds, MAX_REPLY_PAUSE)
        self._replies_paused_until = max(self._replies_paused_until, now + pause)
        log.warning("Telegram flood control of the whole bot: outbox paused %.1f s", seconds)

    async def acquire(self, chat_id: int | None, *, background: bool) -> int | None:
        """Wait until a message to `chat_id` may go, and take that moment from the budget;
        return the shared budget's grant (None without one), for `release` once Telegram has
        answered the message.

        A reply waits for a flood signal of the whole bot once, at most MAX_REPLY_PAUSE: a signal
        that comes again while it waits does not push it further back."""
        if not background and (pause := self._replies_paused_until - self._clock()) > 0:
            await self._sleep(pause)
        while (wait := self._wait(chat_id, background=background)) > 0:
            await self._sleep(wait)
        if self.shared is not None and self.limited:
            return await self._take_shared(self.shared, chat_id, background=background)
        now = self._clock()
        moment = max(now, self._next_any)
        if self.limited:
            self._next_any = moment + SPACING_MARGIN / self.rate
            self._take_chat(chat_id, moment, background=background)
        if moment > now:  # an interactive reply takes the next free moment, even if reserved
            await self._sleep(moment - now)
        return None

    async def release(self, grant: int | None) -> None:
        """The message of an `acquire` was answered by Telegram (sent or refused), or is not
        sent after all: its grant of the shared budget is done."""
        if grant is not None and self.shared is not None:
            await self.shared.done(grant)

    async def _take_shared(
        self, shared: SharedBudget, chat_id: int | None, *, background: bool
    ) -> int:
        """The overall moment from the shared budget (the outbox only one that is free now).
        However late this task wakes, the budget counts its message until `release`."""
        # the outbox's messages ask for a moment one at a time, and so do the replies: many of
        # them asking the database side by side would only load it (a reply waiting for room
        # asks again every moment); each goes once its moment is taken
        while True:
            async with self._background_turn if background else self._reply_turn:
                while True:
                    grant, wait = await shared.take(background=background)
                    if grant is not None:
                        break
                    await self._sleep(max(wait, MIN_ASK))
            moment = self._clock() + max(wait, 0.0)
            if wait > 0:
                try:
                    await self._sleep(wait)
                except asyncio.CancelledError:  # given up before its moment: not sent
                    await shared.done(grant)
                    raise
            if self._clock() - moment <= LATE_START:
                break
            # woken so late (a stalled event loop) that the budget may have given the grant up
            # by the time the request reaches Telegram: not used, another one is taken
            await shared.done(grant)
        self._take_chat(chat_id, moment, background=background)
        return grant

    def background_wait(self, chat_id: int | None) -> float:
        """Seconds a background `acquire` for this chat would wait now (0: it goes at once)."""
        return self._wait(chat_id, background=True)

    def chat_wait(self, chat_id: int) -> float:
        """Seconds until a background message to this chat is allowed by its own limit (and by
        a 429 it was answered)."""
        now = self._clock()
        held = self._held.get(chat_id, 0.0) - now
        if not self.limited:
            return max(0.0, held)
        if chat_id < 0:
            sent = self._group_sent.get(chat_id)
            if sent and len(sent) >= GROUP_MESSAGES:
                return max(0.0, held, sent[0] + GROUP_WINDOW - now)
            return max(0.0, held)
        return max(0.0, held, self._next_chat.get(chat_id, 0.0) - now)

    def _wait(self, chat_id: int | None, *, background: bool) -> float:
        now = self._clock()
        wait = self._outbox_paused_until - now if background else 0.0
        if chat_id is not None:
            wait = max(wait, self._held.get(chat_id, 0.0) - now)
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
        if len(self._next_chat) + len(self._group_sent) + len(self._held) > _PRUNE_AT:
            self._prune(moment)

    def _prune(self, now: float) -> None:
        self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
        self._held = {c: t for c, t in self._held.items() if t > now}
        self._group_sent = {
            c: sent for c, sent in self._group_sent.items() if sent[-1] + GROUP_WINDOW > now
        }


PACED_ENDPOINTS = ("send", "copy", "forward", "edit")  # the calls that count as messages


class PacedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """PTB's hook around every Bot API call: replies go through the shared `Pacer`.

    Calls made with `rate_limit_args={"paced": True}` (the outbox sender, which paced itself)
    are not paced again; a 429 on them holds their chat and is raised for the sender to record.
    An interactive call that meets a 429 holds its chat and is retried up to `max_retries`,
    waiting in its own chat's line only.
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
            grant = None
            if counts and not paced_already:
                grant = await self.pacer.acquire(_chat_id(data), background=False)
            try:
                return await callback(*args, **kwargs)
            except BadRequest as error:
                if not done_already(endpoint, error):
                    raise
                log.info("%s was done already: %s", endpoint, error)
                return True
            except RetryAfter as error:
                self.pacer.flooded(_chat_id(data), retry_after_seconds(error))
                if paced_already or attempt == self.max_retries:
                    raise
            finally:
                await self.pacer.release(grant)
        raise AssertionError("unreachable")  # pragma: no cover


def done_already(endpoint: str, error: BadRequest) -> bool:
    """Whether Telegram refused a call because what it asks for is done: a button press
    answered already, a message that already says this. An update handled again after its
    worker died (several workers: bot/workers.py) repeats its calls; they must not fail it."""
    text = str(error).lower()
    if endpoint == "answerCallbackQuery":
        return "query is too old" in text
    return endpoint.startswith("edit") and "message is not modified" in text


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
