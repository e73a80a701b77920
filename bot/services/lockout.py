"""Failed status checks are limited per Telegram account (default 5 per hour)."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiosqlite

from bot.errors import CheckLocked
from bot.storage.attempts import failures_since

WINDOW = timedelta(hours=1)


async def ensure_not_locked(
    db: aiosqlite.Connection, user_id: int, *, limit: int, now: datetime
) -> None:
    """Raise CheckLocked (with `until`) when the account used up its failed checks this hour."""
    failures = await failures_since(db, user_id, now - WINDOW)
    if len(failures) >= limit:
        raise CheckLocked(until=failures[-limit] + WINDOW)
