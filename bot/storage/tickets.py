"""Damaged/lost card tickets and their history; timestamps are UTC ISO text, dates ISO text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.domain import Ticket, TicketEvent
from bot.engine import Connection, savepoint
from bot.storage.residents import open_nik

_FIELDS = (
    "id, number, chat_id, kind, cause, description, file_id, file_type, service_point, state,"
    " reason, ready_until, created_at, updated_at"
)
# The person is stored as the NIK's lookup hash (bot/crypto.py): the resident's sealed NIK comes
# along and is opened here, in Python on both engines (PostgreSQL never holds the key).
_SELECT = (
    f"SELECT {', '.join('t.' + name for name in _FIELDS.split(', '))}, r.nik_sealed, t.nik_ref"
    " FROM tickets t LEFT JOIN residents r ON r.nik_ref = t.nik_ref"
)
_OPEN = "t.state NOT IN ('handed_over', 'rejected')"


async def insert_ticket(
    db: Connection,
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
    """Insert a reported ticket; bot.engine.IntegrityError on a duplicate number or open ticket
    (the caller's transaction goes on: the INSERT alone is undone)."""
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
    async with (
        savepoint(db, "new_ticket"),
        db.execute(
            "INSERT INTO tickets (number, chat_id, nik_ref, kind, cause, description, file_id,"
            " file_type, service_point, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" RETURNING {_FIELDS}",
            (*values, _ts(now), _ts(now)),
        ) as cursor,
    ):
        row = await cursor.fetchone()
    assert row is not None
    return _ticket(row, nik)


async def get_ticket(db: Connection, ticket_id: int) -> Ticket | None:
    """The ticket with this id, or None."""
    return await _one(db, f"{_SELECT} WHERE t.id = ?", (ticket_id,))


async def get_ticket_by_number(db: Connection, number: str) -> Ticket | None:
    """The ticket with this number (exact, already normalised), or None."""
    return await _one(db, f"{_SELECT} WHERE t.number = ?", (number,))


async def get_open_ticket(db: Connection, nik: str) -> Ticket | None:
    """The person's open ticket (not handed over, not rejected), or None."""
    query = f"{_SELECT} WHERE t.nik_ref = ? AND {_OPEN}"
    return await _one(db, query, (vault_of(db).ref(nik),))


async def list_chat_tickets(db: Connection, chat_id: int) -> list[Ticket]:
    """The chat's tickets, newest first."""
    query = f"{_SELECT} WHERE t.chat_id = ? ORDER BY t.created_at DESC, t.id DESC"
    return await _many(db, query, (chat_id,))


async def list_open_for_point(db: Connection, service_point: str) -> list[Ticket]:
    """Open tickets at the point, oldest first."""
    query = f"{_SELECT} WHERE t.service_point = ? AND {_OPEN} ORDER BY t.id"
    return await _many(db, query, (service_point,))


async def list_by_deadline(db: Connection, state: str, first: date, last: date) -> list[Ticket]:
    """Tickets in `state` whose pick-up deadline is from `first` to `last` (both included)."""
    query = f"{_SELECT} WHERE t.state = ? AND t.ready_until BETWEEN ? AND ? ORDER BY t.id"
    return await _many(db, query, (state, first.isoformat(), last.isoformat()))


async def set_state_if(
    db: Connection,
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
    db: Connection,
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


async def list_events(db: Connection, ticket_id: int) -> list[TicketEvent]:
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


async def count_per_cause(db: Connection) -> dict[str, int]:
    """How many tickets (any state) have each cause; absent causes are left out."""
    async with db.execute("SELECT cause, count(*) FROM tickets GROUP BY cause") as cursor:
        return {cause: n async for cause, n in cursor}


async def count_per_kecamatan(db: Connection) -> list[tuple[str, int]]:
    """Tickets per kecamatan of the resident's desa, biggest first (then by name)."""
    async with db.execute(
        "SELECT a.name, count(*) AS n FROM tickets t JOIN residents r ON r.nik_ref = t.nik_ref"
        " JOIN areas a ON a.code = substr(r.kode_desa, 1, 6)"
        " GROUP BY a.code ORDER BY n DESC, a.name"
    ) as cursor:
        return [(name, n) async for name, n in cursor]


async def handover_spans(db: Connection) -> list[tuple[datetime, datetime]]:
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


async def _one(db: Connection, query: str, params: Sequence[object]) -> Ticket | None:
    tickets = await _many(db, query, params)
    return tickets[0] if tickets else None


async def _many(db: Connection, query: str, params: Sequence[object]) -> list[Ticket]:
    vault = vault_of(db)
    async with db.execute(query, params) as cursor:
        return [_ticket(row, _opened_nik(vault, *row[-2:])) async for row in cursor]


def _opened_nik(vault: Vault, sealed: bytes | None, nik_ref: bytes) -> str:
    return open_nik(vault, sealed, nik_ref) or ""


def _ticket(row: Sequence[Any], nik: str) -> Ticket:
    id_, number, chat, kind, cause, text, file_id, file_type, point, state, reason = row[:11]
    until, created, updated = row[11:14]
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
