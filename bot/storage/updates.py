"""The Telegram updates already handled, for exactly-once handling of re-delivered updates."""

from __future__ import annotations

from datetime import datetime

from bot.engine import Connection
from bot.storage.outbox import ts


async def mark_processed(db: Connection, update_id: int, *, now: datetime) -> bool:
    """Record the update; False when it was recorded already (a re-delivery)."""
    cursor = await db.execute(
        "INSERT INTO processed_updates (update_id, at) VALUES (?, ?)"
        " ON CONFLICT (update_id) DO NOTHING",
        (update_id, ts(now)),
    )
    return cursor.rowcount == 1


async def forget_before(db: Connection, moment: datetime) -> int:
    """Drop records older than `moment` (Telegram keeps updates for 24 hours at most)."""
    cursor = await db.execute("DELETE FROM processed_updates WHERE at < ?", (ts(moment),))
    return cursor.rowcount
