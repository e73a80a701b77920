"""Closures an admin sets for one service point (or, with no point, for every point)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.engine import Connection


async def insert_closure(
    db: Connection,
    *,
    service_point: str | None,
    first_day: date,
    last_day: date,
    reason: str,
    created_by: int | None,
    now: datetime,
) -> int:
    """Close the point (None: every point) from `first_day` to `last_day`; return the id."""
    rows = await db.execute_fetchall(
        "INSERT INTO closures (service_point, first_day, last_day, reason, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (
            service_point,
            first_day.isoformat(),
            last_day.isoformat(),
            reason,
            created_by,
            now.astimezone(UTC).isoformat(),
        ),
    )
    return int(next(iter(rows))[0])


async def closed_days(
    db: Connection, service_point: str, first_day: date, last_day: date
) -> dict[date, str]:
    """The point's closed days between the two days (inclusive), each with the first reason."""
    rows = await db.execute_fetchall(
        "SELECT first_day, last_day, reason FROM closures"
        " WHERE (service_point = ? OR service_point IS NULL) AND first_day <= ? AND last_day >= ?"
        " ORDER BY id",
        (service_point, last_day.isoformat(), first_day.isoformat()),
    )
    closed: dict[date, str] = {}
    for start, end, reason in rows:
        first = max(date.fromisoformat(start), first_day)
        last = min(date.fromisoformat(end), last_day)
        for day in _days(first, last):
            closed.setdefault(day, reason)
    return closed


async def point_is_active(db: Connection, service_point: str) -> bool:
    """Whether the point exists and is active; an inactive point is closed every day."""
    rows = list(
        await db.execute_fetchall(
            "SELECT active FROM service_points WHERE code = ?", (service_point,)
        )
    )
    return bool(rows and rows[0][0])


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
