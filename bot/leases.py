"""Locks a worker holds for as long as it lives: PostgreSQL's session advisory locks, on a
connection of their own (several workers on one database, docs/postgresql.md).

The server releases a session's locks when its connection ends: at a clean stop, when the worker
is SIGKILLed (the kernel closes its socket) or, with the server's `tcp_keepalives_*` settings,
when its machine dies. So one worker polls Telegram, one sends the outbox and one runs each job
slot, and when it dies another takes its place at its next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

log = logging.getLogger(__name__)

NAMESPACE = 0x6475  # "du": the first key of every lock here (PostgreSQL's two-key form)
POLLING = 1  # polls getUpdates
SENDING = 2  # drains the outbox, and runs the repeating housekeeping jobs
_JOBS = 0x4A00_0000  # job slots: this plus a hash of the slot's name
RETRY = 2.0  # seconds between tries for a lock another worker holds


def slot_key(name: str) -> int:
    """The lock key of a job slot (by its job_runs name)."""
    return _JOBS | (zlib.crc32(name.encode()) & 0x00FF_FFFF)


class Leases:
    """Advisory locks on one dedicated connection (autocommit: the locks are the session's)."""

    def __init__(self, raw: psycopg.AsyncConnection[Any]) -> None:
        self.raw = raw
        self.held: set[int] = set()

    @classmethod
    async def open(cls, url: str) -> Leases:
        """A connection of its own to the database of DATABASE_URL."""
        raw = await psycopg.AsyncConnection.connect(
            url, autocommit=True, keepalives=1, keepalives_idle=5, keepalives_interval=2
        )
        return cls(raw)

    async def try_hold(self, key: int) -> bool:
        """Take the lock if free (or held already here); whether this worker holds it now."""
        if key in self.held:
            return True
        cursor = await self.raw.execute("SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, key))
        row = await cursor.fetchone()
        if row is not None and row[0]:
            self.held.add(key)
            return True
        return False

    async def hold(self, key: int, *, what: str, every: float = RETRY) -> None:
        """Wait until this worker holds the lock, trying every `every` seconds."""
        if await self.try_hold(key):
            log.info("this worker %s", what)
            return
        log.info("another worker %s; standing by", what)
        while not await self.try_hold(key):  # noqa: ASYNC110 (another process holds it)
            await asyncio.sleep(every)
        log.info("this worker %s now (taken over)", what)

    async def let_go(self, key: int) -> None:
        """Release the lock (if held)."""
        if key in self.held:
            self.held.discard(key)
            await self.raw.execute("SELECT pg_advisory_unlock(%s, %s)", (NAMESPACE, key))

    @asynccontextmanager
    async def job_slot(self, name: str) -> AsyncIterator[bool]:
        """Hold the lock of a job slot while it runs; yields False if another worker runs it."""
        key = slot_key(name)
        if key in self.held or not await self.try_hold(key):  # this worker runs it already
            yield False
            return
        try:
            yield True
        finally:
            await self.let_go(key)

    async def check(self) -> None:
        """Raise psycopg.OperationalError if the connection (and so every lock) is lost."""
        await self.raw.execute("SELECT 1")

    async def close(self) -> None:
        """End the session: every lock is released (at once, not when the server gets to the
        closed connection)."""
        self.held.clear()
        with contextlib.suppress(psycopg.Error):
            await self.raw.execute("SELECT pg_advisory_unlock_all()")
        await self.raw.close()
