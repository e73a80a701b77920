"""Updates are handled concurrently across chats and one at a time, in order, within a chat.

PTB's default handles one update at a time: an answer that waits for its chat's pace (20 messages
a minute to a group, a 429's `retry_after`) would hold every other chat. `ChatLines` gives each
chat its own line instead. A chat's updates are handled in the order Telegram sent them, each
after the one before has finished, which is what ConversationHandler relies on (its state for a
chat is read when an update arrives and written when its callback returns); updates of different
chats run side by side.

Bounds: at most `running` updates are handled at once (the HTTP layer's connections: more would
only queue there), and at most `line` updates wait in one chat's line. A chat past that is
flooding faster than it is answered; its further updates are dropped (logged), so one chat cannot
fill memory, nor the places of everyone else.

Around each update `around` (bot/conversations.py's Keeper.turn) loads the chat's conversations
from the database and writes them back: inside the chat's line, so one chat's turns never
overlap. `in_line` lets a job take a chat's turn too (a conversation's timeout).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

MAX_RUNNING = 256  # updates handled at once: AiohttpRequest's connections (bot/http.py)
MAX_LINE = 50  # updates waiting in one chat's line
# PTB's own bound counts updates waiting in their line too, so it only guards memory here.
MAX_PENDING = 100_000


@dataclass
class _Line:
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # FIFO: waiters go in arrival order
    waiting: int = 0  # updates in this line, the one being handled included


class ChatLines(BaseUpdateProcessor):
    """PTB's update processor: one line per chat, all chats concurrently."""

    def __init__(self, *, running: int = MAX_RUNNING, line: int = MAX_LINE) -> None:
        super().__init__(max_concurrent_updates=MAX_PENDING)
        self._running = asyncio.Semaphore(running)
        self._line_limit = line
        self._lines: dict[int, _Line] = {}
        self.around: Callable[[object], AbstractAsyncContextManager[object]] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this chat's turn, then for a free place, then handle the update."""
        key = line_key(update)
        if key is None:  # no chat and no user: nothing to keep in order
            async with self._running:
                await self._handle(update, coroutine)
            return
        line = self._lines.get(key)
        if line is not None and line.waiting >= self._line_limit:
            _drop(coroutine)
            log.warning("chat %s sends faster than it is answered: an update was dropped", key)
            return
        async with self.in_line(key), self._running:
            await self._handle(update, coroutine)

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """The update's handlers, inside `around`; if `around` fails to begin, the update is
        dropped (its coroutine closed, the error raised for PTB to log)."""
        around = self.around(update) if self.around is not None else nullcontext()
        began = False
        try:
            async with around:
                began = True
                await coroutine
        finally:
            if not began:
                _drop(coroutine)

    @asynccontextmanager
    async def in_line(self, key: int) -> AsyncIterator[None]:
        """Wait for the turn of chat `key` (after the updates already waiting) and hold it."""
        line = self._lines.setdefault(key, _Line())
        line.waiting += 1
        try:
            async with line.turn:
                yield
        finally:
            line.waiting -= 1
            if not line.waiting:
                del self._lines[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: PTB awaits the updates in hand before shutting down."""


def line_key(update: object) -> int | None:
    """The line an update waits in: its chat's, else (a button under an inline message) its
    sender's."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


def _drop(coroutine: Awaitable[Any]) -> None:
    """Close a coroutine that will never run (else Python warns it was never awaited)."""
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()
