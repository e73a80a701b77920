"""Incidents the admins are alerted of, with whether each was told."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Incident
from bot.engine import Connection
from bot.storage.outbox import ts

_COLUMNS = "id, kind, subject, detail, opened_at, closed_at, open_notified_at, close_notified_at"


async def list_open(db: Connection) -> list[Incident]:
    """The incidents not over yet."""
    return await _select(db, "closed_at IS NULL")


async def list_untold(db: Connection) -> list[Incident]:
    """Incidents whose beginning, or whose end, the admins have not been told yet."""
    return await _select(
        db, "open_notified_at IS NULL OR (closed_at IS NOT NULL AND close_notified_at IS NULL)"
    )


async def open_incident(
    db: Connection, kind: str, subject: str, detail: str, *, now: datetime
) -> None:
    await db.execute(
        "INSERT INTO incidents (kind, subject, detail, opened_at) VALUES (?, ?, ?, ?)",
        (kind, subject, detail, ts(now)),
    )


async def close_incident(db: Connection, incident_id: int, *, now: datetime) -> None:
    await db.execute("UPDATE incidents SET closed_at = ? WHERE id = ?", (ts(now), incident_id))


async def mark_told(db: Connection, incident_id: int, *, over: bool, now: datetime) -> None:
    """The admins were told that the incident began (or, `over`, that it ended)."""
    column = "close_notified_at" if over else "open_notified_at"
    await db.execute(f"UPDATE incidents SET {column} = ? WHERE id = ?", (ts(now), incident_id))


async def _select(db: Connection, where: str) -> list[Incident]:
    async with db.execute(f"SELECT {_COLUMNS} FROM incidents WHERE {where} ORDER BY id") as cur:
        rows = await cur.fetchall()
    return [
        Incident(
            row[0],
            row[1],
            row[2],
            row[3],
            datetime.fromisoformat(row[4]),
            *(_moment(value) for value in row[5:]),
        )
        for row in rows
    ]


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
