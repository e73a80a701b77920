"""The running workers' heartbeats (migration 0028): who shares the sending budget."""

from __future__ import annotations

from datetime import datetime

from bot.engine import Connection
from bot.storage.outbox import ts


async def beat(db: Connection, worker: str, *, now: datetime) -> None:
    """The worker is alive at `now` (its first beat records when it started)."""
    await db.execute(
        "INSERT INTO workers (id, started_at, seen_at) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
        (worker, ts(now), ts(now)),
    )


async def count_alive(db: Connection, *, since: datetime) -> int:
    """How many workers were seen at `since` or later."""
    query = "SELECT count(*) FROM workers WHERE seen_at >= ?"
    async with db.execute(query, (ts(since),)) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def leave(db: Connection, worker: str) -> None:
    """The worker stopped cleanly: it no longer counts."""
    await db.execute("DELETE FROM workers WHERE id = ?", (worker,))


async def forget_before(db: Connection, moment: datetime) -> int:
    """Drop the rows of workers not seen since `moment` (they died)."""
    cursor = await db.execute("DELETE FROM workers WHERE seen_at < ?", (ts(moment),))
    return cursor.rowcount
