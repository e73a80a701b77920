"""The inbox of several workers: updates stored as they arrive, handled by whichever worker
holds their chat's line (bot/workers.py). Bodies are sealed here: an update may hold a NIK."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.db import transaction, vault_of
from bot.engine import Connection
from bot.storage import inbox, workers
from bot.storage.inbox import PLACE


@dataclass(frozen=True)
class Received:
    """One update as Telegram sent it: its id, its line (chat or user) and its JSON text."""

    update_id: int
    line: int
    body: str


async def receive(db: Connection, updates: Iterable[Received], *, now: datetime) -> None:
    """Store the updates (sealed) in one transaction, before Telegram is told they arrived."""
    vault = vault_of(db)
    rows = [(u.update_id, u.line, vault.seal(u.body, PLACE, u.update_id)) for u in updates]
    if rows:
        async with transaction(db):
            await inbox.put(db, rows, now=now)


async def claim(
    db: Connection, worker: str, *, lines: int, now: datetime, lease: timedelta
) -> list[Received]:
    """Hold the waiting updates of up to `lines` lines no other worker holds; in order."""
    async with transaction(db):
        rows = await inbox.claim(db, worker, lines=lines, now=now, until=now + lease)
    vault = vault_of(db)
    return [Received(u, line, vault.open(body, PLACE, u)) for u, line, body in rows]


async def done(db: Connection, update_id: int) -> None:
    """The update's turn is over (effects, reply, conversation kept)."""
    async with transaction(db):
        await inbox.delete(db, update_id)


async def beat(
    db: Connection, worker: str, *, now: datetime, lease: timedelta, alive: timedelta
) -> int:
    """The worker's heartbeat: it is alive, its claims last `lease` more; return how many
    workers were seen within `alive` (itself included)."""
    async with transaction(db):
        await workers.beat(db, worker, now=now)
        await inbox.renew(db, worker, until=now + lease)
        await workers.forget_before(db, now - 10 * alive)
    return await workers.count_alive(db, since=now - alive)


async def leave(db: Connection, worker: str) -> None:
    """A clean stop: the worker's lines are free at once and it no longer counts."""
    async with transaction(db):
        await inbox.release(db, worker)
        await workers.leave(db, worker)
