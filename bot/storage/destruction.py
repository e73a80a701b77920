"""The destruction register: damaged cards received at hand-over and the batches destroying them.

A received card waits while its `batch_id` is NULL; putting it in a batch is one conditional
UPDATE (`... WHERE batch_id IS NULL`), and a trigger refuses to move a card out of its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from bot.db import vault_of
from bot.domain import Batch
from bot.engine import Connection


async def insert_received_card(db: Connection, ticket_id: int, nik: str, *, now: datetime) -> None:
    """Record the damaged card handed in for this ticket as waiting for destruction."""
    await db.execute(
        "INSERT INTO received_cards (ticket_id, nik_ref, received_at) VALUES (?, ?, ?)",
        (ticket_id, vault_of(db).ref(nik), _ts(now)),
    )


async def insert_batch(
    db: Connection,
    *,
    destroyed_on: date,
    method: str,
    witnesses: str,
    created_by: int,
    now: datetime,
) -> int:
    """Insert an (as yet empty) batch; return its id."""
    ((batch_id,),) = await db.execute_fetchall(
        "INSERT INTO destruction_batches (destroyed_on, method, witnesses, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        (destroyed_on.isoformat(), method, witnesses, created_by, _ts(now)),
    )
    return int(batch_id)


async def assign_all_waiting(db: Connection, batch_id: int, *, received_by: datetime) -> int:
    """Put every card waiting since `received_by` or earlier in the batch; return how many."""
    cursor = await db.execute(
        "UPDATE received_cards SET batch_id = ? WHERE batch_id IS NULL AND received_at <= ?",
        (batch_id, _ts(received_by)),
    )
    return cursor.rowcount


async def assign_waiting(
    db: Connection, batch_id: int, numbers: Sequence[str], *, received_by: datetime
) -> int:
    """Put the waiting cards of these ticket numbers (received by then) in the batch."""
    cursor = await db.execute(
        "UPDATE received_cards SET batch_id = ? WHERE batch_id IS NULL AND received_at <= ?"
        f" AND ticket_id IN (SELECT id FROM tickets WHERE number IN ({_marks(numbers)}))",
        (batch_id, _ts(received_by), *numbers),
    )
    return cursor.rowcount


async def not_in_batch(db: Connection, batch_id: int, numbers: Sequence[str]) -> list[str]:
    """Those of the ticket numbers whose card the batch does not hold, sorted."""
    async with db.execute(
        "SELECT t.number FROM received_cards c JOIN tickets t ON t.id = c.ticket_id"
        f" WHERE c.batch_id = ? AND t.number IN ({_marks(numbers)})",
        (batch_id, *numbers),
    ) as cursor:
        held = {number async for (number,) in cursor}
    return sorted(number for number in numbers if number not in held)


async def count_waiting(db: Connection) -> int:
    """How many received cards are not in any batch yet."""
    async with db.execute("SELECT count(*) FROM received_cards WHERE batch_id IS NULL") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def get_batch(db: Connection, batch_id: int) -> Batch | None:
    """The batch with its card count, or None."""
    batches = await _batches(db, "WHERE b.id = ?", (batch_id,))
    return batches[0] if batches else None


async def list_batches(db: Connection) -> list[Batch]:
    """Every batch with its card count, in the order they were destroyed."""
    return await _batches(db, "", ())


async def destroyed_per_year(db: Connection) -> dict[int, int]:
    """Cards destroyed per calendar year of the batch's date."""
    async with db.execute(
        "SELECT CAST(substr(b.destroyed_on, 1, 4) AS INTEGER) AS year, count(*)"
        " FROM received_cards c JOIN destruction_batches b ON b.id = c.batch_id"
        " GROUP BY year ORDER BY year"
    ) as cursor:
        return {year: n async for year, n in cursor}


async def _batches(db: Connection, where: str, params: Sequence[object]) -> list[Batch]:
    async with db.execute(
        "SELECT b.id, b.destroyed_on, b.method, b.witnesses, count(c.id)"
        f" FROM destruction_batches b LEFT JOIN received_cards c ON c.batch_id = b.id {where}"
        " GROUP BY b.id ORDER BY b.destroyed_on, b.id",
        params,
    ) as cursor:
        return [
            Batch(id_, date.fromisoformat(day), method, witnesses, n)
            async for id_, day, method, witnesses, n in cursor
        ]


def _marks(numbers: Sequence[str]) -> str:
    """`?, ?, ...`: one per ticket number (a batch names a few; an empty list matches none)."""
    return ", ".join("?" * len(numbers)) or "NULL"


def _ts(moment: datetime) -> str:
    """ISO text in UTC; a naive datetime is taken to be UTC already."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(UTC).isoformat()
