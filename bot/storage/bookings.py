"""Bookings: one row per visit. `start_at` is stored as UTC ISO text, `day` as the WIB date."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.domain import ACTIVE_BOOKING_STATES, HOLDING_STATES, Booking
from bot.engine import Connection, is_postgresql
from bot.storage.residents import open_nik

# The person is stored as the NIK's lookup hash (bot/crypto.py); the NIK is the resident's,
# selected sealed with its hash and opened in Python (residents.open_nik): on PostgreSQL the
# key never reaches the server, and on SQLite the same text costs what `unseal()` in SQL did.
_COLUMNS = (
    "b.id, b.code, b.chat_id, r.nik_sealed, b.nik_ref, b.service, b.service_point, b.start_at,"
    " b.day, b.queue_number, b.state, b.reason, b.version"
)
_FROM = "bookings b LEFT JOIN residents r ON r.nik_ref = b.nik_ref"
_SELECT = f"SELECT {_COLUMNS} FROM {_FROM}"
# What an INSERT returns (its NIK is the caller's).
_INSERTED = _COLUMNS.replace("b.", "").replace("r.nik_sealed", "NULL")
_ACTIVE = f"b.state IN ({', '.join(repr(s) for s in ACTIVE_BOOKING_STATES)})"
_HOLDING = f"b.state IN ({', '.join(repr(s) for s in HOLDING_STATES)})"


async def insert_booking(
    db: Connection,
    *,
    code: str,
    chat_id: int,
    nik: str,
    service: str,
    service_point: str,
    start_at: datetime,
    day: date,
    queue_number: int | None = None,
    state: str,
    now: datetime,
) -> Booking | None:
    """Insert a booking and return it; None if another booking has the code (nothing is
    inserted, the transaction goes on: on PostgreSQL a failed statement would end it);
    bot.engine.IntegrityError if the person holds an active booking for the service.
    Without `queue_number`, the next at the point on the day (`next_queue_number`), read by the
    INSERT itself; on PostgreSQL under the day's lock, held until COMMIT and taken in the same
    round trip as the INSERT (`_DAY_LOCK`), so the day's other bookings wait for this INSERT's
    answer and the COMMIT only."""
    values = (
        code,
        chat_id,
        vault_of(db).ref(nik),
        service,
        service_point,
        _ts(start_at),
        day.isoformat(),
    )
    number: tuple[object, ...] = (queue_number,)
    number_sql = "?"
    if queue_number is None:
        number, number_sql = (service_point, day.isoformat()), f"({_NEXT_NUMBER})"
    stamp = _ts(now)
    insert = (
        "INSERT INTO bookings (code, chat_id, nik_ref, service, service_point, start_at, day,"
        f" queue_number, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, {number_sql},"
        f" ?, ?, ?) ON CONFLICT (code) DO NOTHING RETURNING {_INSERTED}"
    )
    params = (*values, *number, state, stamp, stamp)
    if queue_number is None and is_postgresql(db):
        day_lock = (_lock_key("day", service_point, day.isoformat()),)
        rows = await db.fetchall_together((_DAY_LOCK, day_lock), (insert, params))
    else:
        rows = list(await db.execute_fetchall(insert, params))
    return next((_booking(row, nik=nik) for row in rows), None)


async def get_booking(db: Connection, booking_id: int) -> Booking | None:
    """The booking with this id, or None."""
    return await _one(db, f"{_SELECT} WHERE b.id = ?", (booking_id,))


async def get_booking_by_code(db: Connection, code: str) -> Booking | None:
    """The booking with this code (case and surrounding spaces ignored), or None."""
    query = f"{_SELECT} WHERE b.code = ?"
    return await _one(db, query, (code.strip().upper(),))


async def get_active_booking(db: Connection, nik: str, service: str) -> Booking | None:
    """The person's active booking for this service, or None."""
    query = f"{_SELECT} WHERE b.nik_ref = ? AND b.service = ? AND {_ACTIVE}"
    return await _one(db, query, (vault_of(db).ref(nik), service))


async def list_chat_bookings(db: Connection, chat_id: int) -> list[Booking]:
    """The chat's bookings in any state: active ones soonest first, then the rest newest first."""
    return await _many(
        db,
        f"{_SELECT} WHERE b.chat_id = ? ORDER BY {_ACTIVE} DESC,"
        f" CASE WHEN {_ACTIVE} THEN b.start_at END, b.start_at DESC, b.id DESC",
        (chat_id,),
    )


async def list_point_day(db: Connection, service_point: str, day: date) -> list[Booking]:
    """Every booking at the point on the day, in any state, in queue order."""
    return await _many(
        db,
        f"{_SELECT} WHERE b.service_point = ? AND b.day = ? ORDER BY b.start_at, b.queue_number",
        (service_point, day.isoformat()),
    )


async def list_unattended_until(db: Connection, day: date) -> list[Booking]:
    """Pending and confirmed bookings at any point on or before the day (no-show candidates)."""
    return await _many(
        db,
        f"{_SELECT} WHERE {_HOLDING} AND b.day <= ?"
        " ORDER BY b.day, b.service_point, b.queue_number",
        (day.isoformat(),),
    )


async def list_active_between(
    db: Connection, service_point: str | None, first_day: date, last_day: date
) -> list[Booking]:
    """Active bookings at the point (None: every point) between the days, inclusive."""
    params = [first_day.isoformat(), last_day.isoformat()]
    where = f"{_ACTIVE} AND b.day BETWEEN ? AND ?"
    if service_point is not None:
        where += " AND b.service_point = ?"
        params.append(service_point)
    query = f"{_SELECT} WHERE {where} ORDER BY b.day, b.service_point, b.queue_number"
    return await _many(db, query, params)


async def count_active_in_slot(db: Connection, service_point: str, start_at: datetime) -> int:
    """How many active bookings hold a place in this slot."""
    return await _count(
        db,
        f"SELECT count(*) FROM bookings b WHERE service_point = ? AND start_at = ? AND {_ACTIVE}",
        (service_point, _ts(start_at)),
    )


async def places_taken(
    db: Connection, service_point: str, start_at: datetime, *, exclude_offer: int | None = None
) -> int:
    """The slot's places taken: its active bookings and the places open waitlist offers hold
    (other than `exclude_offer`; as storage.waitlist.count_open_offers), in one statement."""
    slot = (service_point, _ts(start_at))
    return await _count(
        db,
        f"SELECT (SELECT count(*) FROM bookings b WHERE service_point = ? AND start_at = ?"
        f" AND {_ACTIVE}) + (SELECT count(*) FROM waitlist_offers WHERE service_point = ?"
        " AND start_at = ? AND state = 'open' AND id <> ?)",
        (*slot, *slot, 0 if exclude_offer is None else exclude_offer),  # ids start at 1
    )


async def active_counts_for_day(
    db: Connection, service_point: str, day: date
) -> dict[datetime, int]:
    """Active bookings per slot start (UTC) at the point on the day; empty slots are absent."""
    async with db.execute(
        "SELECT start_at, count(*) FROM bookings b"
        f" WHERE service_point = ? AND day = ? AND {_ACTIVE} GROUP BY start_at",
        (service_point, day.isoformat()),
    ) as cursor:
        return {datetime.fromisoformat(start): n async for start, n in cursor}


async def count_active_for_chat(db: Connection, chat_id: int) -> int:
    """How many active bookings the chat holds (for anyone)."""
    query = f"SELECT count(*) FROM bookings b WHERE chat_id = ? AND {_ACTIVE}"
    return await _count(db, query, (chat_id,))


async def count_active_for_nik(db: Connection, nik: str) -> int:
    """How many active bookings the person holds (any service, any chat)."""
    query = f"SELECT count(*) FROM bookings b WHERE nik_ref = ? AND {_ACTIVE}"
    return await _count(db, query, (vault_of(db).ref(nik),))


@dataclass(frozen=True)
class PersonBookings:
    """What the booking rules read about a person and the chat booking for them."""

    active_id: int | None  # the person's active booking for the service, if any
    for_chat: int  # active bookings the chat holds (for anyone)
    for_nik: int  # active bookings the person holds (any service, any chat)


async def person_bookings(db: Connection, nik: str, service: str, chat_id: int) -> PersonBookings:
    """The person's active booking for the service and the active counts, in one statement."""
    rows = await db.execute_fetchall(
        "SELECT (SELECT id FROM bookings b WHERE nik_ref = :ref AND service = :service"
        f" AND {_ACTIVE}), (SELECT count(*) FROM bookings b WHERE chat_id = :chat AND {_ACTIVE}),"
        f" (SELECT count(*) FROM bookings b WHERE nik_ref = :ref AND {_ACTIVE})",
        {"ref": vault_of(db).ref(nik), "service": service, "chat": chat_id},
    )
    active_id, for_chat, for_nik = next(iter(rows))
    return PersonBookings(active_id, int(for_chat), int(for_nik))


_NEXT_NUMBER = (
    "SELECT coalesce(max(queue_number), 0) + 1 FROM bookings WHERE service_point = ? AND day = ?"
)


async def next_queue_number(db: Connection, service_point: str, day: date) -> int:
    """One more than the highest number given at the point on the day, in any state."""
    return await _count(db, _NEXT_NUMBER, (service_point, day.isoformat()))


# A booking's own locks (PostgreSQL; docs/postgresql.md, "Transactions and the invariants").
# A booking transaction holds the writers' lock shared only (bot.db.transaction with `locks`),
# so bookings run side by side; what each one's rules read, it locks until COMMIT: from BEGIN,
# its chat (three active bookings at most), its person (one active booking per service, the
# no-show rule) and its slot (the capacity); last, with the INSERT, its point's day (the queue
# number: insert_booking). These things have no row of their own to lock, so the locks are
# advisory transaction locks named after them (a 64-bit hash of the name: two names sharing a
# key would only queue together). SQLite needs none: BEGIN IMMEDIATE holds the whole database.
_DAY_LOCK = "SELECT pg_advisory_xact_lock(?::bigint)"


def booking_locks(
    db: Connection, *, chat_id: int, nik: str, service_point: str, start_at: datetime
) -> list[int]:
    """The keys of the chat's, the person's and the slot's locks, for `transaction(locks=)`,
    in the order of their keys, the same for every booking: none waits for another in a
    circle (the day's lock, the only one taken later, is always taken last)."""
    return sorted(
        {
            _lock_key("chat", chat_id),
            _lock_key("person", vault_of(db).ref(nik).hex()),
            _lock_key("slot", service_point, _ts(start_at)),
        }
    )


def _lock_key(*name: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, name)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def no_shows_since(db: Connection, nik: str, since: datetime) -> int:
    """How many of the person's visits since `since` ended as no-show."""
    query = (
        "SELECT count(*) FROM bookings WHERE nik_ref = ? AND state = 'no_show' AND start_at >= ?"
    )
    return await _count(db, query, (vault_of(db).ref(nik), _ts(since)))


async def set_state(
    db: Connection,
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
    db: Connection,
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
    db: Connection,
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


async def _one(db: Connection, query: str, params: Sequence[object]) -> Booking | None:
    rows = list(await db.execute_fetchall(query, params))
    return _booking(rows[0], vault=vault_of(db)) if rows else None


async def _many(db: Connection, query: str, params: Sequence[object]) -> list[Booking]:
    vault = vault_of(db)
    return [_booking(row, vault=vault) for row in await db.execute_fetchall(query, params)]


async def _count(db: Connection, query: str, params: Sequence[object]) -> int:
    rows = list(await db.execute_fetchall(query, params))
    return int(rows[0][0]) if rows else 0


def _booking(row: Sequence[Any], *, vault: Vault | None = None, nik: Any = None) -> Booking:
    """The Booking of a row selected as _COLUMNS: its NIK opened with `vault`, or `nik`."""
    id_, code, chat, sealed, ref, service, point, start, day, number, state, reason, version = row
    if vault is not None:
        nik = open_nik(vault, sealed, ref)
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
