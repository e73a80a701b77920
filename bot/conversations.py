"""Conversations that survive a restart: the database, not the process, holds where each person
is in each flow and what the flow has collected so far.

PTB keeps both in memory: each ConversationHandler's `_conversations` dict (read by its
synchronous `check_update`) and the application's `user_data` / `chat_data`. Its persistence
(BasePersistence) loads conversations once at start-up and only ever writes them back
afterwards: there is no read-back (`refresh_user_data` exists, a conversation twin does not:
python-telegram-bot issues #4452 and #5225), so a second process never sees a step taken on the
first, and PTB's conversation timeouts are jobs in the JobQueue of one process. Hence a design of
our own, which needs no change to any flow:

- `Keeper.turn` wraps the handling of each update, inside its chat's line (bot/update_lines.py:
  one update of a chat at a time, in order). Before: one read of the chat's and the account's
  rows (bot/services/conversations.py), put into the handlers' structures for that key only.
  After: what changed is written back, in one transaction with the update's "handled" mark, and
  the in-memory copies are dropped, so the database is the only truth (what several workers
  sharing one database need: a conversation begun on one continues on another).
- The update is marked handled in the same transaction as its effects too (bot/db.py's
  `before_commit`): after a SIGKILL either the step's effects are there and the update is not
  handled again, or neither and it is. One window stays: killed after a step's effects were
  committed but before its reply was sent and its new state written, the person finds the
  previous step still open (pressing it again meets the effect already made, e.g. "already
  booked"), rather than the effect made twice.
- Timeouts: PTB's timeout jobs are switched off (`adopt`); each row carries an expiry (the
  flow's conversation_timeout from the last update). A state found expired is ended with the
  flow's TIMEOUT handlers (the step's buttons removed) before the update is handled; the
  conversations job does the same for people who never come back, then deletes every expired
  row, data included.

Every ConversationHandler added to the application is adopted at start-up (`adopt`); it must
be named, per chat and per user (the default) and not per message.

Cost per update: one read (the chat's and account's rows, the update's "handled" mark and the
chat's "blocked" mark, in one statement) and one write transaction (the mark, plus the rows when
the update is in a flow or left data).

For several workers (issue 15, part 3) this stays as it is: nothing of a conversation is kept in
a process between updates. What those parts add around it: the store on PostgreSQL (the storage
functions take both engines already), and one chat's turns in order across workers (ChatLines
orders them within one process only): e.g. a per-chat lock held around `turn`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosqlite
from telegram import Chat, Message, Update, User
from telegram.ext import Application, CallbackContext, ConversationHandler

from bot import db as dbmod
from bot.inline_sqlite import statements_inline
from bot.services import conversations as kept
from bot.services.updates import record
from bot.update_lines import ChatLines

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(hours=1)  # a flow without conversation_timeout of its own
NOBODY = 0


@dataclass
class Turn:
    """One update being handled: what `once` and `hand_on` (bot/handlers) ask of it."""

    update_id: int  # 0 for a stand-in (bot/conversations.py's own, never recorded)
    redelivered: bool = False
    recorded: bool = False  # marked handled already, with the step's effects
    now: datetime | None = None  # when it arrived: timeouts count from then
    # keyboards removed in this turn (a timeout found on arrival, then a press on that step)
    dropped: set[tuple[int, int]] = field(default_factory=set)
    again: list[Update] = field(default_factory=list)  # handed on to the handlers once more
    # whether the chat was recorded as having blocked the bot, read with its conversations
    # (bot/handlers/delivery.py's note_contact); None: not read
    blocked: bool | None = None


_current: ContextVar[Turn | None] = ContextVar("conversation_turn", default=None)


def current_turn() -> Turn | None:
    """The turn of the update being handled in this task, if any (None outside ChatLines,
    e.g. a test calling `process_update` itself)."""
    return _current.get()


class Keeper:
    """Loads each update's conversations from the database and writes them back."""

    def __init__(self, app: Application, lines: ChatLines) -> None:
        self._app = app
        self._lines = lines
        self._flows: dict[str, ConversationHandler] = {}
        self._timeouts: dict[str, timedelta] = {}
        self._accounts: dict[int, tuple[asyncio.Lock, int]] = {}  # lock, turns holding or waiting

    def adopt(self) -> None:
        """Take over every ConversationHandler of the application, and its timeout."""
        for group in self._app.handlers.values():
            for handler in group:
                if isinstance(handler, ConversationHandler):
                    self._adopt(handler)
        self._lines.around = self.turn

    def _adopt(self, flow: ConversationHandler) -> None:
        name = flow.name
        if not name or name.startswith("@") or name in self._flows:
            raise ValueError(f"a conversation needs a unique name of its own: {name!r}")
        if not (flow.per_chat and flow.per_user) or flow.per_message:
            raise ValueError(f"conversation {name}: only per chat and per user is kept")
        timeout = flow.conversation_timeout
        self._timeouts[name] = (
            timedelta(seconds=timeout) if isinstance(timeout, int | float) else timeout
        ) or DEFAULT_TIMEOUT
        # PTB would time it out with a job in this process's JobQueue: the expiry column does.
        flow._conversation_timeout = None  # PTB has no public switch
        self._flows[name] = flow

    @asynccontextmanager
    async def turn(self, update: object) -> AsyncIterator[None]:
        """Around the handling of `update`: its conversations in memory, then in the database."""
        chat_id, user_id = _ids(update)
        if not isinstance(update, Update) or (chat_id, user_id) == (NOBODY, NOBODY):
            yield
            return
        # its point reads and small writes on the loop's thread (bot/inline_sqlite.py)
        with statements_inline():
            async with self._account(user_id):
                turn = Turn(update.update_id)
                try:
                    loaded = await self._load(turn, chat_id, user_id)
                    async with self._marking(turn):
                        await self._time_out(loaded.expired, update)
                        yield
                        while turn.again:  # hand_on: the handlers see it again, in this turn
                            await self._app.process_update(turn.again.pop(0))
                    if not turn.redelivered:
                        await self._keep_or_log(turn, chat_id, user_id, loaded)
                finally:
                    self._forget(chat_id, user_id)

    @asynccontextmanager
    async def _marking(self, turn: Turn) -> AsyncIterator[None]:
        """While the update is handled: `current_turn()` is this turn, and every transaction
        it commits records it as handled (bot/db.py's `before_commit`)."""
        token, hook = _current.set(turn), dbmod.before_commit.set(self._mark(turn))
        try:
            yield
        finally:
            dbmod.before_commit.reset(hook)
            _current.reset(token)

    async def end_expired(self, now: datetime) -> int:
        """Time out the conversations past their expiry (for people who did not come back),
        each in its chat's line; return how many."""
        due = await kept.expired_states(self._db, now=now)
        for chat_id, user_id in dict.fromkeys((c, u) for c, u, _ in due):
            update = _stand_in(chat_id, user_id, now)
            async with self._lines.in_line(chat_id), self.turn(update):
                pass
        return len(due)

    @property
    def _db(self) -> aiosqlite.Connection:
        return self._app.bot_data["db"]

    def _now(self) -> datetime:
        return self._app.bot_data["clock"].now()

    async def _load(self, turn: Turn, chat_id: int, user_id: int) -> kept.Kept:
        turn.now = self._now()
        loaded = await kept.load(self._db, chat_id, user_id, now=turn.now, update_id=turn.update_id)
        turn.redelivered, turn.blocked = loaded.handled, loaded.blocked
        for name, state in loaded.states.items():
            if name in self._flows:
                self._flows[name]._conversations[(chat_id, user_id)] = state
        if loaded.user_data:
            self._app.user_data[user_id].update(loaded.user_data)
        if loaded.chat_data:
            self._app.chat_data[chat_id].update(loaded.chat_data)
        return loaded

    async def _keep_or_log(self, turn: Turn, chat_id: int, user_id: int, loaded: kept.Kept) -> None:
        """Write back what the update left; a failure is logged (the update was handled)."""
        try:
            await self._keep(turn, chat_id, user_id, loaded)
        except Exception:
            log.exception("the conversations of update %s were not kept", turn.update_id)

    async def _keep(self, turn: Turn, chat_id: int, user_id: int, loaded: kept.Kept) -> None:
        states = {}
        for name, flow in self._flows.items():
            state = flow._conversations.get((chat_id, user_id))
            if state is not None:
                states[name] = (state, self._timeouts[name])
        await kept.keep(
            self._db,
            chat_id,
            user_id,
            loaded,
            states=states,
            user_data=self._app.user_data.get(user_id) or {},
            chat_data=self._app.chat_data.get(chat_id) or {},
            update_id=None if turn.recorded else turn.update_id or None,
            now=turn.now or self._now(),
        )

    def _forget(self, chat_id: int, user_id: int) -> None:
        """Drop this key's in-memory copies: the next update reads the database again."""
        for flow in self._flows.values():
            flow._conversations.pop((chat_id, user_id), None)
        if user_id in self._app.user_data:
            self._app.drop_user_data(user_id)
        if chat_id in self._app.chat_data:
            self._app.drop_chat_data(chat_id)

    async def _time_out(self, names: set[str], update: Update) -> None:
        """End expired conversations with their flow's TIMEOUT handlers, as PTB's job would."""
        for name in sorted(names & self._flows.keys()):
            flow = self._flows[name]
            context = CallbackContext.from_update(update, self._app)
            for handler in flow.states.get(ConversationHandler.TIMEOUT, []):
                check = handler.check_update(update)
                if check is None or check is False:
                    continue
                try:
                    await handler.handle_update(update, self._app, check, context)
                except Exception:
                    log.exception("the timeout of conversation %s failed", name)

    def _mark(self, turn: Turn) -> Callable[[aiosqlite.Connection], Coroutine[Any, Any, bool]]:
        """The before-commit hook: the step's effects and the update's mark commit together."""

        async def mark(db: aiosqlite.Connection) -> bool:
            if not turn.update_id or turn.redelivered or turn.recorded:
                return False
            turn.recorded = True
            return await record(db, turn.update_id, now=self._now())

        return mark

    @asynccontextmanager
    async def _account(self, user_id: int) -> AsyncIterator[None]:
        """One turn at a time per account too (its data is shared by its chats)."""
        if user_id == NOBODY:
            yield
            return
        lock, holders = self._accounts.get(user_id) or (asyncio.Lock(), 0)
        self._accounts[user_id] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._accounts[user_id]
            if holders == 1:
                del self._accounts[user_id]
            else:
                self._accounts[user_id] = (lock, holders - 1)


def _ids(update: object) -> tuple[int, int]:
    """(chat id, user id) of an update, NOBODY for what it has not."""
    if not isinstance(update, Update):
        return NOBODY, NOBODY
    chat, user = update.effective_chat, update.effective_user
    return (chat.id if chat else NOBODY), (user.id if user else NOBODY)


def _stand_in(chat_id: int, user_id: int, now: datetime) -> Update:
    """An update naming only a chat and an account, for a timeout nobody's update triggers
    (a TIMEOUT handler reads no more of it). Its id 0 is never recorded as handled."""
    chat = Chat(chat_id, Chat.PRIVATE if chat_id == user_id else Chat.GROUP)
    user = User(user_id, "", is_bot=False)
    return Update(0, message=Message(0, now, chat, from_user=user))
