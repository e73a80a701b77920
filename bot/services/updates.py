"""Each Telegram update is handled once, even when Telegram delivers it again."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiosqlite

from bot.db import transaction
from bot.storage import updates

KEEP = timedelta(days=2)  # Telegram re-delivers for at most 24 hours
PRUNE_EVERY = 1000  # update ids: now and then, forget the old records


async def first_time(db: aiosqlite.Connection, update_id: int, *, now: datetime) -> bool:
    """True the first time an update id is seen; False for a re-delivery."""
    async with transaction(db):
        new = await updates.mark_processed(db, update_id, now=now)
        if new and update_id % PRUNE_EVERY == 0:
            await updates.forget_before(db, now - KEEP)
    return new
