"""aiosqlite's connection whose short statements run on the event loop's own thread.

aiosqlite hands every statement to the connection's thread and wakes the loop with the result:
two thread switches per statement. Under a burst (50 citizens sending /cek in the same instant)
the loop's thread is busy with the other updates, so each hand-over waits for the interpreter
lock and for the scheduler: on a loaded 2-core machine a third of the bot's time per /cek went
to the dozen hand-overs of its point reads and small writes, each of which SQLite itself does
in tens of microseconds (issue 13's burst, benchmarks/check_latency.py).

So, inside `statements_inline()` (bot/conversations.py sets it around each update being
handled), while the connection's thread has nothing queued or running, `execute`,
`execute_fetchall`, `execute_insert`, an `executemany` of a few rows and closing a cursor run at
once on the loop's thread:

- a SELECT that runs longer than `inline_budget` is stopped (a progress handler) and run again
  on the connection's thread: a read has nothing to undo, and the loop is never held long (a
  staff member's statistics over a million residents take the thread, as before);
- other statements run to their end: an update's writes touch rows by key (a bulk write, an
  executemany of more than MAX_INLINE_ROWS rows, always takes the thread). Stopping a write
  would roll back its whole transaction, so none is stopped;
- on the loop's thread the busy timeout is 0: a statement that finds the file locked by another
  process (`import-residents`, `run-job`) is run again on the connection's thread, which waits
  the busy timeout there, never on the loop; and no commit checkpoints the WAL on the loop's
  thread (it writes and syncs up to a thousand pages): every CHECKPOINT_EVERY commits made there,
  a passive checkpoint is handed to the connection's thread;
- fetching rows from a cursor always takes the thread (a fetch stopped half-way could not be
  run again), so the update's reads use execute_fetchall.

Statements keep their order: one runs inline only when none waits for the thread. A job's
statements (outside the scope) take the thread as before. The connection is used by one thread
at a time, never by both at once (hence `check_same_thread=False` is safe here).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

INLINE_BUDGET = 0.004  # seconds a SELECT may run on the loop's thread before it moves
PROGRESS_STEPS = 1000  # SQLite virtual machine steps between two looks at the budget
CHECKPOINT_EVERY = 200  # commits on the loop's thread between two passive checkpoints
MAX_INLINE_ROWS = 16  # rows of an executemany that may run inline
MAX_STREAK = 64  # statements run inline in a row before the loop gets a turn
_INLINE_CALLS = frozenset({"execute", "_execute_fetchall", "_execute_insert"})

_inline: ContextVar[bool] = ContextVar("sqlite_statements_inline", default=False)


@contextmanager
def statements_inline() -> Iterator[None]:
    """In this block (and the tasks it starts), short statements may run on the loop's thread."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's Connection; see the module's docstring for which statements run inline."""

    def __init__(
        self, connector: Callable[[], sqlite3.Connection], *, busy_timeout_ms: int
    ) -> None:
        super().__init__(connector, 64)
        self.inline_budget = INLINE_BUDGET
        self._busy_timeout_ms = busy_timeout_ms
        self._sent = 0  # calls handed to the thread (counted on the loop's thread)
        self._done = 0  # calls the thread has finished (counted on the thread)
        self._loop_settings = False  # busy timeout 0, no automatic checkpoint
        self._commits = 0
        self.checkpointing: asyncio.Future[Any] | None = None  # the latest passive checkpoint
        self._streak = 0

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if isinstance(getattr(fn, "__self__", None), Finished):  # rows in memory already
            return fn(*args, **kwargs)
        kind = _kind(fn, args)
        if kind in (WRITE, OTHER):  # run to its end in this one call (see Finished)
            fn = partial(_to_the_end, fn)
        if kind is not None and _inline.get():
            self._streak += 1
            if self._streak >= MAX_STREAK:  # a long run of statements lets other tasks in
                self._streak = 0
                await asyncio.sleep(0)
            if self._sent == self._done:  # the thread is idle (still, after that turn)
                try:
                    return self._run_inline(fn, args, kwargs, reading=kind == READ)
                except _Moved:
                    pass
        self._streak = 0
        return await self._hand_over(partial(fn, *args, **kwargs))

    def _run_inline(self, fn: Callable[..., Any], args: Any, kwargs: Any, *, reading: bool) -> Any:
        conn = self._conn
        if not self._loop_settings:
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._loop_settings = True
        if reading:
            deadline = time.perf_counter() + self.inline_budget
            conn.set_progress_handler(lambda: time.perf_counter() > deadline, PROGRESS_STEPS)
        try:
            result = fn(*args, **kwargs)
        except sqlite3.OperationalError as error:
            message = str(error)
            if (reading and "interrupted" in message) or "locked" in message:
                raise _Moved from error
            raise
        finally:
            if reading:
                conn.set_progress_handler(None, 0)
        if args and args[0] == "COMMIT":
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                self._checkpoint()
        return result

    async def _hand_over(self, function: Callable[[], Any]) -> Any:
        """Run `function` on the connection's thread (aiosqlite's own way), counting it."""
        if self._loop_settings:  # the thread's statements wait for locks and checkpoint
            function = partial(_thread_settings, self._conn, self._busy_timeout_ms, function)
            self._loop_settings = False
        future = asyncio.get_running_loop().create_future()
        self._sent += 1
        self._tx.put_nowait((future, partial(_counted, self, function)))
        return await future

    def _checkpoint(self) -> None:
        if self.checkpointing is not None and not self.checkpointing.done():
            return
        # run to its end: the PRAGMA's answer left unread would hold up every COMMIT
        call = partial(_to_the_end, self._conn.execute, _CHECKPOINT)
        self.checkpointing = asyncio.ensure_future(self._hand_over(call))
        self.checkpointing.add_done_callback(_log_failure)


class _Moved(Exception):
    """The statement is run on the connection's thread instead."""


_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


READ, WRITE, OTHER = "read", "write", "other"
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _kind(fn: Callable[..., Any], args: tuple[Any, ...]) -> str | None:
    """READ, WRITE or OTHER (BEGIN, COMMIT, a PRAGMA) for a call that may run inline, else
    None. All but a READ are run to their end in one call, on either thread."""
    name, owner = getattr(fn, "__name__", ""), getattr(fn, "__self__", None)
    if name == "close":
        return OTHER if isinstance(owner, sqlite3.Cursor) else None
    if name == "executemany":  # a few rows (a conversation's); never a bulk write
        rows = args[1] if len(args) > 1 else None
        fits = isinstance(rows, list | tuple) and len(rows) <= MAX_INLINE_ROWS
        return WRITE if fits else None
    if name not in _INLINE_CALLS or not args or not isinstance(args[0], str):
        return None
    return _statement_kind(args[0], fetching=name != "execute")


@lru_cache(maxsize=2048)
def _statement_kind(sql: str, *, fetching: bool) -> str:
    """READ, WRITE or OTHER for a statement's text. Remembered: the storage layer sends the
    same few hundred texts again and again, and searching a long SELECT for a write was a
    few percent of a /cek."""
    head = sql.lstrip()[:7].upper()
    if head.startswith(("INSERT", "UPDATE", "DELETE", "REPLACE")):
        return OTHER if fetching else WRITE
    if head.startswith(("SELECT", "WITH")):
        if not _WRITES.search(sql):
            return READ
        return OTHER if fetching else WRITE
    return OTHER


class Finished:
    """The cursor of a statement that is not a read, run to its end: its rows (RETURNING, a
    PRAGMA's answer) in memory. SQLite refuses a COMMIT while a writing statement is under way
    on the connection; an UPDATE ... RETURNING whose rows were fetched by a second call (the
    outbox sender's) left one under way between the two, and another task's COMMIT there failed
    ("SQL statements in progress"), leaving its transaction open for every later BEGIN to fail.
    A read under way holds up no COMMIT: its rows are fetched a chunk at a time as before."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._rows = cursor.fetchall()
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        self.description = cursor.description
        self.arraysize = cursor.arraysize
        self.row_factory = cursor.row_factory
        self.connection = cursor.connection

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def close(self) -> None:
        self._rows = []


def _to_the_end(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    cursor = fn(*args, **kwargs)
    return Finished(cursor) if isinstance(cursor, sqlite3.Cursor) else cursor


def _counted(conn: InlineConnection, function: Callable[[], Any]) -> Any:
    try:
        return function()
    finally:
        conn._done += 1  # only this thread writes it


def _thread_settings(
    conn: sqlite3.Connection, busy_timeout_ms: int, function: Callable[[], Any]
) -> Any:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA wal_autocheckpoint = 1000")
    return function()


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("a passive WAL checkpoint failed: %s", task.exception())


async def open_inline(path: Path | str, *, busy_timeout_ms: int) -> InlineConnection:
    """Open the file (we own transactions) on a connection of this kind."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(
            str(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )

    conn = InlineConnection(connector, busy_timeout_ms=busy_timeout_ms)
    await conn  # starts its thread and connects there
    return conn
