"""The figures /metrics reads from the database at each scrape: counts and moments only, never
a chat id, name or number of a person."""

from __future__ import annotations

from datetime import datetime

from bot.engine import Connection, is_postgresql
from bot.storage.outbox import ts


async def _grouped(db: Connection, query: str, *params: object) -> dict[str, int]:
    async with db.execute(query, params) as cursor:
        return {str(key): int(count) for key, count in await cursor.fetchall()}


async def outbox_by_kind_and_state(db: Connection) -> dict[tuple[str, str], int]:
    """How many outbox messages of each kind are in each state."""
    async with db.execute("SELECT kind, state, count(*) FROM outbox GROUP BY kind, state") as cur:
        return {(kind, state): int(count) for kind, state, count in await cur.fetchall()}


async def due_messages(
    db: Connection, *, now: datetime, held: tuple[str, ...] = ()
) -> tuple[int, datetime | None]:
    """Queued messages whose moment has come (not of the `held` kinds): how many, and the
    moment the oldest of them became due."""
    unheld = f" AND kind NOT IN ({', '.join('?' * len(held))})" if held else ""
    async with db.execute(
        "SELECT count(*), min(not_before) FROM outbox WHERE state = 'queued'"
        f" AND not_before <= ?{unheld}",
        (ts(now), *held),
    ) as cursor:
        row = await cursor.fetchone()
    if not row or not row[0]:
        return 0, None
    return int(row[0]), datetime.fromisoformat(row[1])


async def failed_checks_since(db: Connection, since: datetime) -> int:
    """Failed status checks (all accounts) after `since`."""
    async with db.execute(
        "SELECT count(*) FROM check_attempts WHERE succeeded = 0 AND at > ?", (since.isoformat(),)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def burst_on(db: Connection, now: datetime) -> bool:
    """Whether a burst of failed checks lasts at `now`."""
    async with db.execute(
        "SELECT 1 FROM check_bursts WHERE until > ? LIMIT 1", (now.isoformat(),)
    ) as cursor:
        return await cursor.fetchone() is not None


async def bookings_by_state(db: Connection) -> dict[str, int]:
    """How many bookings are in each state."""
    return await _grouped(db, "SELECT state, count(*) FROM bookings GROUP BY state")


async def tickets_by_state(db: Connection) -> dict[str, int]:
    """How many damaged/lost card tickets are in each state."""
    return await _grouped(db, "SELECT state, count(*) FROM tickets GROUP BY state")


async def database_bytes(db: Connection) -> int:
    """The size of the database in bytes: SQLite's main file (its pages), PostgreSQL's
    database on the server."""
    query = (
        "SELECT pg_database_size(current_database())"
        if is_postgresql(db)
        else "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    )
    async with db.execute(query) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def ping(db: Connection) -> None:
    """A query that must answer; raises if the database does not."""
    async with db.execute("SELECT count(*) FROM schema_migrations") as cursor:
        await cursor.fetchone()
