"""Which WIB days each scheduled job has planned."""

from __future__ import annotations

from datetime import date, datetime

from bot.engine import Connection
from bot.storage.outbox import ts


async def last_day(db: Connection, job: str) -> date | None:
    """The latest day this job slot has planned, or None if it never ran."""
    async with db.execute("SELECT max(day) FROM job_runs WHERE job = ?", (job,)) as cursor:
        row = await cursor.fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


async def record(db: Connection, job: str, day: date, *, planned: int, now: datetime) -> None:
    """Remember that the job planned `day` (a second run of the same day adds its count)."""
    await db.execute(
        "INSERT INTO job_runs (job, day, planned, finished_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (job, day) DO UPDATE SET planned = job_runs.planned + excluded.planned,"
        " finished_at = excluded.finished_at",
        (job, day.isoformat(), planned, ts(now)),
    )
