"""Each Telegram update is handled once, even when Telegram delivers it again.

An update is recorded as handled in the transaction that writes its effects (bot/db.py's
`before_commit`, set by bot/conversations.py) and again, at the latest, with the conversation
state it leaves: killed before that, the update was not recorded and is handled again."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.db import transaction
from bot.engine import Connection
from bot.storage import updates

KEEP = timedelta(days=2)  # Telegram re-delivers for at most 24 hours
PRUNE_EVERY = 1000  # update ids: now and then, forget the old records


async def first_time(db: Connection, update_id: int, *, now: datetime) -> bool:
    """True the first time an update id is seen (and record it); False for a re-delivery."""
    async with transaction(db):
        return await record(db, update_id, now=now)


async def record(db: Connection, update_id: int, *, now: datetime) -> bool:
    """Record the update as handled, inside the caller's transaction; False if it was already."""
    new = await updates.mark_processed(db, update_id, now=now)
    if new and update_id % PRUNE_EVERY == 0:
        await updates.forget_before(db, now - KEEP)
    return new
