"""The end-of-day sweep: bookings still holding their place when the day is over are no-shows."""

from __future__ import annotations

from datetime import date, datetime

from bot.db import transaction
from bot.domain import HOLDING_STATES, Booking
from bot.engine import Connection
from bot.services.staff_actions import move_booking
from bot.storage import bookings


async def sweep_no_shows(db: Connection, *, day: date, now: datetime) -> list[Booking]:
    """Every pending/confirmed booking on or before `day` becomes no_show (audited as the
    system's act); return them, for their citizens to be told."""
    async with transaction(db):
        unattended = await bookings.list_unattended_until(db, day)
        return [
            await move_booking(db, b, HOLDING_STATES, "no_show", actor=None, now=now)
            for b in unattended
        ]
