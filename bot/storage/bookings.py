"""Bookings: one row per visit. `start_at` is stored as UTC ISO text, `day` as the WIB date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import aiosqlite

from bot.db import vault_of
from bot.domain import ACTIVE_BOOKING_STATES, HOLDING_STATES, Booking
from bot.storage.residents import opened_nik

# The person is stored as the NIK's lookup hash (bot/crypto.py); the NIK is read opened from
# the resident's row.
_NIK = opened_nik("bookings.nik_ref")
_COLUMNS = (
    f"id, code, chat_id, {_NIK}, service, service_point, start_at, day, queue_number, state,"
    " reason, version"
)
# What an INSERT returns: the NIK is the caller's (a subquery in RETURNING scans the residents).
_INSERTED = _COLUMNS.replace(_NIK, "NULL")
_ACTIVE = f"state IN ({', '.join(repr(s) for s in ACTIVE_BOOKING_STATES)})"
_HOLDING = f"state IN ({', '.join(repr(s) for s in HOLDING_STATES)})"


async def insert_booking(
    db: aiosqlite.Connection,
    *,
    code: str,
    chat_id: int,
    nik: str,
    service: str,
    service_point: str,
    start_at: datetime,
    day: date,
    queue_number: int,
    state: str,
    now: datetime,
) -> Booking:
    """Insert a booking and return it; sqlite3.IntegrityError on a duplicate code or person."""
    values = (
        code,
        chat_id,
        vault_of(db).ref(nik),
        service,
        service_point,
        _ts(start_at),
        day.isoformat(),
    )
    stamp = _ts(now)
    rows = await db.execute_fetchall(
        "INSERT INTO bookings (code, chat_id, nik_ref, service, service_point, start_at, day,"
        " queue_number, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {_INSERTED}",
        (*values, queue_number, state, stamp, stamp),
    )
    row = next(iter(rows))
    return _booking((*row[:3], nik, *row[4:]))


async def get_booking(db: aiosqlite.Connection, booking_id: int) -> Booking | None:
    """The booking with this id, or None."""
    return await _one(db, f"SELECT {_COLUMNS} FROM bookings WHERE id = ?", (booking_id,))


async def get_booking_by_code(db: aiosqlite.Connection, code: str) -> Booking | None:
    """The booking with this code (case and surrounding spaces ignored), or None."""
    query = f"SELECT {_COLUMNS} FROM bookings WHERE code = ?"
    return await _one(db, query, (code.strip().upper(),))


async def get_active_booking(db: aiosqlite.Connection, nik: str, service: str) -> Booking | None:
    """The person's active booking for this service, or None."""
    query = f"SELECT {_COLUMNS} FROM bookings WHERE nik_ref = ? AND service = ? AND {_ACTIVE}"
    return await _one(db, query, (vault_of(db).ref(nik), service))


async def list_chat_bookings(db: aiosqlite.Connection, chat_id: int) -> list[Booking]:
    """The chat's bookings in any state: active ones soonest first, then the rest newest first."""
    return await _many(
        db,
        f"SELECT {_COLUMNS} FROM bookings WHERE chat_id = ? ORDER BY {_ACTIVE} DESC,"
        f" CASE WHEN {_ACTIVE} THEN start_at END, start_at DESC, id DESC",
        (chat_id,),
    )


async def list_point_day(db: aiosqlite.Connection, service_point: str, day: date) -> list[Booking]:
    """Every booking at the point on the day, in any state, in queue order."""
    return await _many(
        db,
        f"SELECT {_COLUMNS} FROM bookings WHERE service_point = ? AND day = ?"
        " ORDER BY start_at, queue_number",
        (service_point, day.isoformat()),
    )


async def list_unattended_until(db: aiosqlite.Connection, day: date) -> list[Booking]:
    """Pending and confirmed bookings at any point on or before the day (no-show candidates)."""
    return await _many(
        db,
        f"SELECT {_COLUMNS} FROM bookings WHERE {_HOLDING} AND day <= ?"
        " ORDER BY day, service_point, queue_number",
        (day.isoformat(),),
    )


async def list_active_between(
    db: aiosqlite.Connection, service_point: str | None, first_day: date, last_day: date
) -> list[Booking]:
    """Active bookings at the point (None: every point) between the days, inclusive."""
    return await _many(
        db,
        f"SELECT {_COLUMNS} FROM bookings WHERE {_ACTIVE} AND day BETWEEN ? AND ?"
        " AND (? IS NULL OR service_point = ?) ORDER BY day, service_point, queue_number",
        (first_day.isoformat(), last_day.isoformat(), service_point, service_point),
    )


async def count_active_in_slot(
    db: aiosqlite.Connection, service_point: str, start_at: datetime
) -> int:
    """How many active bookings hold a place in this slot."""
    return await _count(
        db,
        f"SELECT count(*) FROM bookings WHERE service_point = ? AND start_at = ? AND {_ACTIVE}",
        (service_point, _ts(start_at)),
    )


async def active_counts_for_day(
    db: aiosqlite.Connection, service_point: str, day: date
) -> dict[datetime, int]:
    """Active bookings per slot start (UTC) at the point on the day; empty slots are absent."""
    async with db.execute(
        "SELECT start_at, count(*) FROM bookings"
        f" WHERE service_point = ? AND day = ? AND {_ACTIVE} GROUP BY start_at",
        (service_point, day.isoformat()),
    ) as cursor:
        return {datetime.fromisoformat(start): n async for start, n in cursor}


async def count_active_for_chat(db: aiosqlite.Connection, chat_id: int) -> int:
    """How many active bookings the chat holds (for anyone)."""
    query = f"SELECT count(*) FROM bookings WHERE chat_id = ? AND {_ACTIVE}"
    return await _count(db, query, (chat_id,))


async def count_active_for_nik(db: aiosqlite.Connection, nik: str) -> int:
    """How many active bookings the person holds (any service, any chat)."""
    query = f"SELECT count(*) FROM bookings WHERE nik_ref = ? AND {_ACTIVE}"
    return await _count(db, query, (vault_of(db).ref(nik),))


@dataclass(frozen=True)
class PersonBookings:
    """What the booking rules read about a person and the chat booking for them."""

    active_id: int | None  # the person's active booking for the service, if any
    for_chat: int  # active bookings the chat holds (for anyone)
    for_nik: int  # active bookings the person holds (any service, any chat)


async def person_bookings(
    db: aiosqlite.Connection, nik: str, service: str, chat_id: int
) -> PersonBookings:
    """The person's active booking for the service and the active counts, in one statement."""
    rows = await db.execute_fetchall(
        f"SELECT (SELECT id FROM bookings WHERE nik_ref = ?1 AND service = ?2 AND {_ACTIVE}),"
        f" (SELECT count(*) FROM bookings WHERE chat_id = ?3 AND {_ACTIVE}),"
        f" (SELECT count(*) FROM bookings WHERE nik_ref = ?1 AND {_ACTIVE})",
        (vault_of(db).ref(nik), service, chat_id),
    )
    active_id, for_chat, for_nik = next(iter(rows))
    return PersonBookings(active_id, int(for_chat), int(for_nik))


async def next_queue_number(db: aiosqlite.Connection, service_point: str, day: date) -> int:
    """One more than the highest number given at the point on the day, in any state."""
    query = "SELECT coalesce(max(queue_number), 0) + 1 FROM bookings"
    return await _count(
        db, f"{query} WHERE service_point = ? AND day = ?", (service_point, day.isoformat())
    )


async def no_shows_since(db: aiosqlite.Connection, nik: str, since: datetime) -> int:
    """How many of the person's visits since `since` ended as no-show."""
    query = (
        "SELECT count(*) FROM bookings WHERE nik_ref = ? AND state = 'no_show' AND start_at >= ?"
    )
    return await _count(db, query, (vault_of(db).ref(nik), _ts(since)))


async def set_state(
    db: aiosqlite.Connection,
    booking_id: int,
    state: str,
    *,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Set the booking's state and reason unconditionally."""
    await db.execute(
        "UPDATE bookings SET state = ?, reason = ?, updated_at = ?, version = version + 1"
        " WHERE id = ?",
        (state, reason, _ts(now), booking_id),
    )


async def set_state_if(
    db: aiosqlite.Connection,
    booking_id: int,
    *,
    from_states: Sequence[str],
    to_state: str,
    now: datetime,
    reason: str | None = None,
) -> bool:
    """Move the booking to `to_state` only if it is in one of `from_states`; True if it moved."""
    marks = ", ".join("?" * len(from_states))
    cursor = await db.execute(
        "UPDATE bookings SET state = ?, reason = ?, updated_at = ?, version = version + 1"
        f" WHERE id = ? AND state IN ({marks})",
        (to_state, reason, _ts(now), booking_id, *from_states),
    )
    return cursor.rowcount == 1


async def move_booking(
    db: aiosqlite.Connection,
    booking_id: int,
    *,
    start_at: datetime,
    day: date,
    queue_number: int,
    state: str,
    now: datetime,
) -> None:
    """Move the booking to another slot with a new queue number and state; clear the reason."""
    await db.execute(
        "UPDATE bookings SET start_at = ?, day = ?, queue_number = ?, state = ?, reason = NULL,"
        " updated_at = ?, version = version + 1 WHERE id = ?",
        (_ts(start_at), day.isoformat(), queue_number, state, _ts(now), booking_id),
    )


# Each read is one `execute_fetchall`: one trip to aiosqlite's thread instead of three (execute,
# fetch, close). The booking transaction holds the write lock while it reads, so trips count.


async def _one(db: aiosqlite.Connection, query: str, params: Sequence[object]) -> Booking | None:
    rows = list(await db.execute_fetchall(query, params))
    return _booking(rows[0]) if rows else None


async def _many(db: aiosqlite.Connection, query: str, params: Sequence[object]) -> list[Booking]:
    return [_booking(row) for row in await db.execute_fetchall(query, params)]


async def _count(db: aiosqlite.Connection, query: str, params: Sequence[object]) -> int:
    rows = list(await db.execute_fetchall(query, params))
    return int(rows[0][0]) if rows else 0


def _booking(row: Sequence[Any]) -> Booking:
    id_, code, chat, nik, service, point, start, day, number, state, reason, version = row
    return Booking(
        id=id_,
        code=code,
        chat_id=chat,
        nik=nik,
        service=service,
        service_point=point,
        start_at=datetime.fromisoformat(start),
        day=date.fromisoformat(day),
        queue_number=number,
        state=state,
        reason=reason,
        version=version,
    )


def _ts(moment: datetime) -> str:
    """ISO text in UTC; a naive datetime is taken to be UTC already."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(UTC).isoformat()
