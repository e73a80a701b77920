"""Damaged/lost card tickets and their history; timestamps are UTC ISO text, dates ISO text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import aiosqlite

from bot.db import vault_of
from bot.domain import Ticket, TicketEvent
from bot.storage.residents import opened_nik

# The person is stored as the NIK's lookup hash (bot/crypto.py), read back opened from the
# resident's row.
_NIK = opened_nik("tickets.nik_ref")
_COLUMNS = (
    f"id, number, chat_id, {_NIK}, kind, cause, description, file_id, file_type, service_point,"
    " state, reason, ready_until, created_at, updated_at"
)
# What an INSERT returns: the NIK is the caller's (a subquery in RETURNING scans the residents).
_INSERTED = _COLUMNS.replace(_NIK, "NULL")
_OPEN = "state NOT IN ('handed_over', 'rejected')"


async def insert_ticket(
    db: aiosqlite.Connection,
    *,
    number: str,
    chat_id: int,
    nik: str,
    kind: str,
    cause: str,
    description: str | None,
    file_id: str | None,
    file_type: str | None,
    service_point: str,
    now: datetime,
) -> Ticket:
    """Insert a reported ticket; sqlite3.IntegrityError on a duplicate number or open ticket."""
    values = (
        number,
        chat_id,
        vault_of(db).ref(nik),
        kind,
        cause,
        description,
        file_id,
        file_type,
        service_point,
    )
    async with db.execute(
        "INSERT INTO tickets (number, chat_id, nik_ref, kind, cause, description, file_id,"
        " file_type, service_point, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {_INSERTED}",
        (*values, _ts(now), _ts(now)),
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return _ticket((*row[:3], nik, *row[4:]))


async def get_ticket(db: aiosqlite.Connection, ticket_id: int) -> Ticket | None:
    """The ticket with this id, or None."""
    return await _one(db, f"SELECT {_COLUMNS} FROM tickets WHERE id = ?", (ticket_id,))


async def get_ticket_by_number(db: aiosqlite.Connection, number: str) -> Ticket | None:
    """The ticket with this number (exact, already normalised), or None."""
    return await _one(db, f"SELECT {_COLUMNS} FROM tickets WHERE number = ?", (number,))


async def get_open_ticket(db: aiosqlite.Connection, nik: str) -> Ticket | None:
    """The person's open ticket (not handed over, not rejected), or None."""
    query = f"SELECT {_COLUMNS} FROM tickets WHERE nik_ref = ? AND {_OPEN}"
    return await _one(db, query, (vault_of(db).ref(nik),))


async def list_chat_tickets(db: aiosqlite.Connection, chat_id: int) -> list[Ticket]:
    """The chat's tickets, newest first."""
    query = f"SELECT {_COLUMNS} FROM tickets WHERE chat_id = ? ORDER BY created_at DESC, id DESC"
    return await _many(db, query, (chat_id,))


async def list_open_for_point(db: aiosqlite.Connection, service_point: str) -> list[Ticket]:
    """Open tickets at the point, oldest first."""
    query = f"SELECT {_COLUMNS} FROM tickets WHERE service_point = ? AND {_OPEN} ORDER BY id"
    return await _many(db, query, (service_point,))


async def list_by_deadline(
    db: aiosqlite.Connection, state: str, first: date, last: date
) -> list[Ticket]:
    """Tickets in `state` whose pick-up deadline is from `first` to `last` (both included)."""
    query = (
        f"SELECT {_COLUMNS} FROM tickets WHERE state = ?"
        " AND ready_until BETWEEN ? AND ? ORDER BY id"
    )
    return await _many(db, query, (state, first.isoformat(), last.isoformat()))


async def set_state_if(
    db: aiosqlite.Connection,
    ticket_id: int,
    *,
    from_states: Sequence[str],
    to_state: str,
    now: datetime,
    reason: str | None = None,
    ready_until: date | None = None,
) -> bool:
    """Move the ticket to `to_state` only if it is in one of `from_states`; True if it moved.

    `reason` and `ready_until` are set when given and kept otherwise."""
    marks = ", ".join("?" * len(from_states))
    until = ready_until.isoformat() if ready_until else None
    cursor = await db.execute(
        "UPDATE tickets SET state = ?, reason = coalesce(?, reason),"
        " ready_until = coalesce(?, ready_until), updated_at = ?"
        f" WHERE id = ? AND state IN ({marks})",
        (to_state, reason, until, _ts(now), ticket_id, *from_states),
    )
    return cursor.rowcount == 1


async def insert_event(
    db: aiosqlite.Connection,
    ticket_id: int,
    *,
    state: str,
    actor_id: int | None,
    note: str | None,
    now: datetime,
) -> None:
    """Append one step to the ticket's history."""
    await db.execute(
        "INSERT INTO ticket_events (ticket_id, at, state, actor_id, note) VALUES (?, ?, ?, ?, ?)",
        (ticket_id, _ts(now), state, actor_id, note),
    )


async def list_events(db: aiosqlite.Connection, ticket_id: int) -> list[TicketEvent]:
    """The ticket's history, oldest first."""
    async with db.execute(
        "SELECT at, state, actor_id, note FROM ticket_events WHERE ticket_id = ? ORDER BY id",
        (ticket_id,),
    ) as cursor:
        return [
            TicketEvent(datetime.fromisoformat(at), state, actor, note)
            async for at, state, actor, note in cursor
        ]


# --- statistics ---


async def count_per_cause(db: aiosqlite.Connection) -> dict[str, int]:
    """How many tickets (any state) have each cause; absent causes are left out."""
    async with db.execute("SELECT cause, count(*) FROM tickets GROUP BY cause") as cursor:
        return {cause: n async for cause, n in cursor}


async def count_per_kecamatan(db: aiosqlite.Connection) -> list[tuple[str, int]]:
    """Tickets per kecamatan of the resident's desa, biggest first (then by name)."""
    async with db.execute(
        "SELECT a.name, count(*) AS n FROM tickets t JOIN residents r ON r.nik_ref = t.nik_ref"
        " JOIN areas a ON a.code = substr(r.kode_desa, 1, 6)"
        " GROUP BY a.code ORDER BY n DESC, a.name"
    ) as cursor:
        return [(name, n) async for name, n in cursor]


async def handover_spans(db: aiosqlite.Connection) -> list[tuple[datetime, datetime]]:
    """(reported at, handed over at) of every handed-over ticket."""
    async with db.execute(
        "SELECT r.at, h.at FROM tickets t"
        " JOIN ticket_events r ON r.ticket_id = t.id AND r.state = 'reported'"
        " JOIN ticket_events h ON h.ticket_id = t.id AND h.state = 'handed_over'"
        " WHERE t.state = 'handed_over'"
    ) as cursor:
        return [
            (datetime.fromisoformat(start), datetime.fromisoformat(end))
            async for start, end in cursor
        ]


# --- helpers ---


async def _one(db: aiosqlite.Connection, query: str, params: Sequence[object]) -> Ticket | None:
    async with db.execute(query, params) as cursor:
        row = await cursor.fetchone()
    return _ticket(row) if row else None


async def _many(db: aiosqlite.Connection, query: str, params: Sequence[object]) -> list[Ticket]:
    async with db.execute(query, params) as cursor:
        return [_ticket(row) async for row in cursor]


def _ticket(row: Sequence[Any]) -> Ticket:
    id_, number, chat, nik, kind, cause, text, file_id, file_type, point, state, reason = row[:12]
    until, created, updated = row[12:]
    return Ticket(
        id=id_,
        number=number,
        chat_id=chat,
        nik=nik,
        kind=kind,
        cause=cause,
        description=text,
        file_id=file_id,
        file_type=file_type,
        service_point=point,
        state=state,
        reason=reason,
        ready_until=date.fromisoformat(until) if until else None,
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(updated),
    )


def _ts(moment: datetime) -> str:
    """ISO text in UTC; a naive datetime is taken to be UTC already."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(UTC).isoformat()
