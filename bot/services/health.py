"""What the operator's /metrics shows from the database, gathered at each scrape so that every
process on the database (the bot, `run-job`, a backup) agrees: counts and moments only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.db import transaction
from bot.domain import BackupStatus, JobHealth
from bot.engine import Connection
from bot.services.backup import last_backup
from bot.services.outbox import HELD_IN_QUIET_HOURS, QUIET_HOURS, QuietHours, quiet_hours_end
from bot.storage import health, job_health

FAILED_CHECKS_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Figures:
    """One scrape's figures from the database."""

    outbox: dict[tuple[str, str], int]  # (kind, state) -> messages
    due: int  # queued messages whose moment has come
    oldest_due: timedelta  # how long the oldest of them has waited (zero when none)
    jobs: list[JobHealth]
    failed_checks: int  # within FAILED_CHECKS_WINDOW
    burst: bool
    bookings: dict[str, int]  # state -> bookings
    tickets: dict[str, int]  # state -> tickets
    database_bytes: int
    backup: BackupStatus


async def gather_figures(
    db: Connection, *, now: datetime, quiet: QuietHours = QUIET_HOURS
) -> Figures:
    """The database's figures at `now`; reminders held by quiet hours are not counted as due."""
    held = HELD_IN_QUIET_HOURS if quiet_hours_end(now, quiet) else ()
    due, oldest = await health.due_messages(db, now=now, held=held)
    return Figures(
        outbox=await health.outbox_by_kind_and_state(db),
        due=due,
        oldest_due=max(now - oldest, timedelta(0)) if oldest else timedelta(0),
        jobs=await job_health.list_job_health(db),
        failed_checks=await health.failed_checks_since(db, now - FAILED_CHECKS_WINDOW),
        burst=await health.burst_on(db, now),
        bookings=await health.bookings_by_state(db),
        tickets=await health.tickets_by_state(db),
        database_bytes=await health.database_bytes(db),
        backup=await last_backup(db),
    )


async def database_answers(db: Connection) -> None:
    """Raise if the database does not answer a query."""
    await health.ping(db)


async def record_job_outcome(
    db: Connection,
    job: str,
    *,
    now: datetime,
    error: BaseException | None = None,
) -> None:
    """Record that `job` succeeded (or failed with `error`, of which only the class is kept)."""
    async with transaction(db):
        if error is None:
            await job_health.record_success(db, job, now=now)
        else:
            await job_health.record_failure(db, job, type(error).__name__, now=now)
