"""Status-check attempts per Telegram account, for the failed-check lockout."""

from __future__ import annotations

from datetime import datetime

import aiosqlite


async def record_attempt(
    db: aiosqlite.Connection, user_id: int, *, succeeded: bool, now: datetime
) -> None:
    """Write one attempt."""
    await db.execute(
        "INSERT INTO check_attempts (user_id, at, succeeded) VALUES (?, ?, ?)",
        (user_id, now.isoformat(), int(succeeded)),
    )


async def failures_since(db: aiosqlite.Connection, user_id: int, since: datetime) -> list[datetime]:
    """Times of the account's failed attempts after `since`, oldest first (one trip to the
    database thread: it runs before every status check)."""
    rows = await db.execute_fetchall(
        "SELECT at FROM check_attempts WHERE user_id = ? AND succeeded = 0 AND at > ? ORDER BY at",
        (user_id, since.isoformat()),
    )
    return [datetime.fromisoformat(row[0]) for row in rows]


async def delete_attempts(db: aiosqlite.Connection, user_id: int, *, keep_after: datetime) -> None:
    """Forget an account's attempts, except failures after `keep_after` (the lockout needs them)."""
    await db.execute(
        "DELETE FROM check_attempts WHERE user_id = ? AND (succeeded = 1 OR at <= ?)",
        (user_id, keep_after.isoformat()),
    )
