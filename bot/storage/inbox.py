"""The updates received and not yet handled to the end (migration 0028), for several workers.

Bodies arrive sealed (bot/services/inbox.py); this module only moves rows. A line is a chat (or,
for a button under an inline message, a user): its rows are held by one worker at a time and
handled in update_id order. Runs on SQLite and PostgreSQL alike (bot/engine.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.engine import Connection, is_postgresql
from bot.storage.outbox import ts

PLACE = "inbox.body"  # what a body is sealed bound to, with its update id
# Claims take turns (PostgreSQL): two workers must never split one line between them.
CLAIM_LOCK = 0x6475_6B69  # "duki"

# Rows of lines that no other worker holds (a live claim), not yet held by anyone: the first
# `lines` such lines by their oldest update.
_CLAIM = """
UPDATE inbox SET claimed_by = :me, claimed_until = :until
WHERE (claimed_by IS NULL OR claimed_until <= :now)
  AND line IN (
    SELECT line FROM inbox GROUP BY line
    HAVING sum(CASE WHEN claimed_by <> :me AND claimed_until > :now THEN 1 ELSE 0 END) = 0
       AND sum(CASE WHEN claimed_by IS NULL OR claimed_until <= :now THEN 1 ELSE 0 END) > 0
    ORDER BY min(update_id) LIMIT :lines)
RETURNING update_id, line, body
"""


async def put(db: Connection, rows: Iterable[tuple[int, int, bytes]], *, now: datetime) -> None:
    """Store (update_id, line, sealed body) rows; one handled or stored already is skipped.
    Inside the caller's transaction."""
    await db.executemany(
        "INSERT INTO inbox (update_id, line, body, received_at)"
        " SELECT ?, ?, ?, ? WHERE NOT EXISTS"
        " (SELECT 1 FROM processed_updates WHERE update_id = ?)"
        " ON CONFLICT (update_id) DO NOTHING",
        [(update_id, line, body, ts(now), update_id) for update_id, line, body in rows],
    )


async def claim(
    db: Connection, worker: str, *, lines: int, now: datetime, until: datetime
) -> list[tuple[int, int, bytes]]:
    """Hold the waiting rows of up to `lines` lines no other worker holds, until `until`;
    return them (update_id, line, sealed body) in update_id order. Inside the caller's
    transaction."""
    if is_postgresql(db):
        await db.execute("SELECT pg_advisory_xact_lock(?)", (CLAIM_LOCK,))
    params = {"me": worker, "until": ts(until), "now": ts(now), "lines": lines}
    rows = await db.execute_fetchall(_CLAIM, params)
    return sorted((int(u), int(line), bytes(body)) for u, line, body in rows)


async def renew(db: Connection, worker: str, *, until: datetime) -> int:
    """Extend the worker's claims; return how many rows it holds."""
    cursor = await db.execute(
        "UPDATE inbox SET claimed_until = ? WHERE claimed_by = ?", (ts(until), worker)
    )
    return cursor.rowcount


async def delete(db: Connection, update_id: int) -> None:
    """The update's turn is over: drop its row."""
    await db.execute("DELETE FROM inbox WHERE update_id = ?", (update_id,))


async def release(db: Connection, worker: str) -> int:
    """Give up the worker's claims (a clean stop): another worker may take its lines at once."""
    cursor = await db.execute(
        "UPDATE inbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?",
        (worker,),
    )
    return cursor.rowcount


async def waiting(db: Connection) -> int:
    """How many updates are received and not yet handled to the end."""
    async with db.execute("SELECT count(*) FROM inbox") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
