"""The waitlist (people waiting for a freed place) and the offers that hold a place for one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.domain import ACTIVE_BOOKING_STATES, Offer, WaitlistEntry
from bot.engine import Connection
from bot.storage.residents import open_nik

# The person is stored as the NIK's lookup hash (bot/crypto.py); the resident's sealed NIK is
# selected with it and opened in Python (residents.open_nik).
_NIK = "r.nik_sealed, w.nik_ref"
_PERSON = "LEFT JOIN residents r ON r.nik_ref = w.nik_ref"
_ENTRY_COLUMNS = (
    f"w.id, w.chat_id, {_NIK}, w.service, w.service_point, w.first_day, w.last_day, w.state"
)
_ENTRY_FROM = f"waitlist w {_PERSON}"
_OFFER_COLUMNS = (
    f"o.id, o.waitlist_id, w.chat_id, {_NIK}, w.service, o.service_point, o.start_at, o.expires_at"
)
_OFFER_FROM = f"waitlist_offers o JOIN waitlist w ON w.id = o.waitlist_id {_PERSON}"
_ACTIVE = f"b.state IN ({', '.join(repr(s) for s in ACTIVE_BOOKING_STATES)})"


async def insert_entry(
    db: Connection,
    *,
    chat_id: int,
    nik: str,
    service: str,
    service_point: str,
    first_day: date,
    last_day: date,
    now: datetime,
) -> int:
    """Put the person on the waitlist; bot.engine.IntegrityError if already waiting for it."""
    rows = await db.execute_fetchall(
        "INSERT INTO waitlist (chat_id, nik_ref, service, service_point, first_day, last_day,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            chat_id,
            vault_of(db).ref(nik),
            service,
            service_point,
            first_day.isoformat(),
            last_day.isoformat(),
            _ts(now),
        ),
    )
    return int(next(iter(rows))[0])


async def get_entry(db: Connection, entry_id: int) -> WaitlistEntry | None:
    """The waitlist entry with this id, or None."""
    query = f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM} WHERE w.id = ?"
    return await _one_entry(db, query, (entry_id,))


async def current_entry(db: Connection, nik: str, service: str) -> WaitlistEntry | None:
    """The person's waiting (or offered) entry for the service, or None."""
    query = (
        f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM}"
        " WHERE w.nik_ref = ? AND w.service = ? AND w.state IN ('waiting', 'offered')"
    )
    return await _one_entry(db, query, (vault_of(db).ref(nik), service))


async def list_chat_entries(
    db: Connection, chat_id: int, *, states: Sequence[str]
) -> list[WaitlistEntry]:
    """The chat's entries in one of `states`, oldest first."""
    marks = ", ".join("?" * len(states))
    query = (
        f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM} WHERE w.chat_id = ? AND w.state IN ({marks})"
    )
    rows = await db.execute_fetchall(f"{query} ORDER BY w.id", (chat_id, *states))
    return [_entry(row, vault_of(db)) for row in rows]


async def next_in_line(
    db: Connection, service_point: str, start_at: datetime, day: date
) -> WaitlistEntry | None:
    """The longest-waiting entry for the point whose days include `day`, who has no active
    booking for the service and was never offered this slot before."""
    query = (
        f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM}"
        " WHERE w.service_point = ? AND w.state = 'waiting' AND w.first_day <= ?"
        " AND w.last_day >= ? AND NOT EXISTS (SELECT 1 FROM bookings b"
        f" WHERE b.nik_ref = w.nik_ref AND b.service = w.service AND {_ACTIVE})"
        " AND NOT EXISTS (SELECT 1 FROM waitlist_offers o WHERE o.waitlist_id = w.id"
        " AND o.start_at = ?) ORDER BY w.id LIMIT 1"
    )
    params = (service_point, day.isoformat(), day.isoformat(), _ts(start_at))
    return await _one_entry(db, query, params)


async def set_entry_state_if(
    db: Connection, entry_id: int, *, from_states: Sequence[str], to_state: str
) -> bool:
    """Move the entry to `to_state` only if it is in one of `from_states`; True if it moved."""
    marks = ", ".join("?" * len(from_states))
    cursor = await db.execute(
        f"UPDATE waitlist SET state = ? WHERE id = ? AND state IN ({marks})",
        (to_state, entry_id, *from_states),
    )
    return cursor.rowcount == 1


async def expire_entries_before(db: Connection, day: date) -> int:
    """Waiting entries whose last day is before `day` become expired; return how many."""
    cursor = await db.execute(
        "UPDATE waitlist SET state = 'expired' WHERE state = 'waiting' AND last_day < ?",
        (day.isoformat(),),
    )
    return cursor.rowcount


async def insert_offer(
    db: Connection,
    *,
    waitlist_id: int,
    service_point: str,
    start_at: datetime,
    expires_at: datetime,
    now: datetime,
) -> int:
    """Hold the slot for the entry until `expires_at`; return the offer's id."""
    rows = await db.execute_fetchall(
        "INSERT INTO waitlist_offers (waitlist_id, service_point, start_at, expires_at,"
        " created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (waitlist_id, service_point, _ts(start_at), _ts(expires_at), _ts(now)),
    )
    return int(next(iter(rows))[0])


async def get_offer(db: Connection, offer_id: int) -> tuple[Offer, str] | None:
    """The offer with this id and its state (open / taken / expired), or None."""
    query = f"SELECT {_OFFER_COLUMNS}, o.state FROM {_OFFER_FROM} WHERE o.id = ?"
    rows = list(await db.execute_fetchall(query, (offer_id,)))
    return (_offer(rows[0][:-1], vault_of(db)), rows[0][-1]) if rows else None


async def overdue_offers(db: Connection, *, now: datetime) -> list[Offer]:
    """Open offers whose hold has run out, oldest first."""
    query = (
        f"SELECT {_OFFER_COLUMNS} FROM {_OFFER_FROM}"
        " WHERE o.state = 'open' AND o.expires_at <= ? ORDER BY o.id"
    )
    rows = await db.execute_fetchall(query, (_ts(now),))
    return [_offer(row, vault_of(db)) for row in rows]


async def set_offer_state_if(
    db: Connection, offer_id: int, *, from_state: str, to_state: str
) -> bool:
    """Move the offer from `from_state` to `to_state`; True if it moved."""
    cursor = await db.execute(
        "UPDATE waitlist_offers SET state = ? WHERE id = ? AND state = ?",
        (to_state, offer_id, from_state),
    )
    return cursor.rowcount == 1


async def count_open_offers(
    db: Connection,
    service_point: str,
    start_at: datetime,
    *,
    now: datetime,
    exclude: int | None = None,
) -> int:
    """How many places in this slot open offers hold (other than `exclude`); see above."""
    query = (
        "SELECT count(*) FROM waitlist_offers WHERE service_point = ? AND start_at = ?"
        " AND state = 'open' AND id <> ?"
    )
    params = (service_point, _ts(start_at), 0 if exclude is None else exclude)  # ids start at 1
    rows = list(await db.execute_fetchall(query, params))
    return int(rows[0][0]) if rows else 0


async def open_offer_counts(
    db: Connection,
    service_point: str,
    first_at: datetime,
    last_at: datetime,
    *,
    now: datetime,
) -> dict[datetime, int]:
    """Places held by open offers per slot start in [first_at, last_at).

    An open offer holds its place until the expiry job hands it on, even a little past
    `expires_at`, so nobody can snipe a place between the end of a hold and the next offer.
    """
    query = (
        "SELECT start_at, count(*) FROM waitlist_offers WHERE service_point = ?"
        " AND start_at >= ? AND start_at < ? AND state = 'open' GROUP BY start_at"
    )
    params = (service_point, _ts(first_at), _ts(last_at))
    async with db.execute(query, params) as cursor:
        return {datetime.fromisoformat(start): n async for start, n in cursor}


async def _one_entry(db: Connection, query: str, params: Sequence[object]) -> WaitlistEntry | None:
    rows = list(await db.execute_fetchall(query, params))
    return _entry(rows[0], vault_of(db)) if rows else None


def _entry(row: Sequence[Any], vault: Vault) -> WaitlistEntry:
    id_, chat_id, sealed, ref, service, point, first, last, state = row
    first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    nik: Any = open_nik(vault, sealed, ref)
    return WaitlistEntry(id_, chat_id, nik, service, point, first_day, last_day, state)


def _offer(row: Sequence[Any], vault: Vault) -> Offer:
    id_, entry, chat_id, sealed, ref, service, point, start, expires = row
    start_at, expires_at = datetime.fromisoformat(start), datetime.fromisoformat(expires)
    nik: Any = open_nik(vault, sealed, ref)
    return Offer(id_, entry, chat_id, nik, service, point, start_at, expires_at)


def _ts(moment: datetime) -> str:
    """ISO text in UTC; a naive datetime is taken to be UTC already."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(UTC).isoformat()
