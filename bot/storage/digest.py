"""Regency-wide counts for the admins' daily digest (a point's own lists are in bookings.py
and tickets.py)."""

from __future__ import annotations

from datetime import date

import aiosqlite

from bot.storage.residents import born_between


async def booking_states_on(db: aiosqlite.Connection, day: date) -> dict[str, int]:
    """Bookings at every point for the WIB day, counted per state; absent states are left out."""
    return await _per_state(
        db, "SELECT state, count(*) FROM bookings WHERE day = ? GROUP BY state", day.isoformat()
    )


async def ticket_states(db: aiosqlite.Connection) -> dict[str, int]:
    """Every ticket counted per state; absent states are left out."""
    return await _per_state(db, "SELECT state, count(*) FROM tickets GROUP BY state")


async def recordings_between(db: aiosqlite.Connection, first: date, last: date) -> int:
    """Residents whose e-KTP recording is dated between the days inclusive."""
    async with db.execute(
        "SELECT count(*) FROM residents WHERE tanggal_rekam BETWEEN ? AND ?",
        (first.isoformat(), last.isoformat()),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def recorded_among_born(db: aiosqlite.Connection, first: date, last: date) -> tuple[int, int]:
    """(residents born between the dates inclusive, how many of them have recorded)."""
    async with db.execute(
        "SELECT count(*), count(tanggal_rekam) FROM residents r"
        f" WHERE {born_between('first', 'last')}",
        {"first": first.isoformat(), "last": last.isoformat()},
    ) as cursor:
        row = await cursor.fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def _per_state(db: aiosqlite.Connection, query: str, *params: object) -> dict[str, int]:
    async with db.execute(query, params) as cursor:
        return {state: count async for state, count in cursor}
