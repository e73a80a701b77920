"""How each scheduled job last ended: its last success, its last failure and their count.

Runs on SQLite and PostgreSQL alike (bot/engine.py): the first module ported, the pattern for
the rest (docs/postgresql.md)."""

from __future__ import annotations

from datetime import datetime

from bot.domain import JobHealth
from bot.engine import Connection
from bot.storage.outbox import ts


async def record_success(db: Connection, job: str, *, now: datetime) -> None:
    """The job (or the backup) ran to its end at `now`."""
    await db.execute(
        "INSERT INTO job_health (job, last_success_at) VALUES (?, ?)"
        " ON CONFLICT (job) DO UPDATE SET last_success_at = excluded.last_success_at",
        (job, ts(now)),
    )


async def record_failure(db: Connection, job: str, error: str, *, now: datetime) -> None:
    """The job failed at `now` with an exception of class `error` (its name only)."""
    await db.execute(
        "INSERT INTO job_health (job, last_failure_at, last_error, failures) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (job) DO UPDATE SET last_failure_at = excluded.last_failure_at,"
        " last_error = excluded.last_error, failures = job_health.failures + 1",
        (job, ts(now), error),
    )


async def list_job_health(db: Connection) -> list[JobHealth]:
    """Every job that has run at least once, by name."""
    async with db.execute(
        "SELECT job, last_success_at, last_failure_at, last_error, failures FROM job_health"
        " ORDER BY job"
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        JobHealth(job, _moment(success), _moment(failure), error, failures)
        for job, success, failure, error, failures in rows
    ]


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
