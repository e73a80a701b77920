"""The admins' alerts: each minute the conditions are evaluated; an incident is opened when one
begins to hold and closed when it no longer does, and the admins are told once of each (by
bot/jobs/alerts.py). Counts, job names and error classes only: never personal data.

The kinds, with their thresholds (settings):
- `outbox`: the oldest due outbox message has waited longer than ALERT_OUTBOX_MINUTES;
- `telegram`: the Bot API has not answered for ALERT_TELEGRAM_MINUTES;
- `job`: a scheduled job's latest run failed (until it next succeeds), one incident per job;
- `backup`: the latest backup failed, or the newest is older than ALERT_BACKUP_HOURS (a database
  that was never backed up raises nothing until the first nightly run);
- `disk`: the database's disk has less than ALERT_DISK_FREE_PERCENT % or ALERT_DISK_FREE_GB free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.db import transaction
from bot.domain import Incident
from bot.engine import Connection
from bot.services.health import Figures
from bot.storage import incidents

BACKUP_JOB = "backup"  # its failures are the `backup` alert's, not a second `job` alert


@dataclass(frozen=True)
class Condition:
    """A condition that holds now; `subject` tells incidents of one kind apart."""

    kind: str
    subject: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Readings:
    """What the conditions are evaluated on."""

    figures: Figures
    telegram_down: timedelta  # how long the Bot API has not answered (zero when it does)
    disk_free: int  # bytes free on the database's disk
    disk_total: int


def holding(readings: Readings, settings: Settings, *, now: datetime) -> list[Condition]:
    """The alert conditions that hold at `now`."""
    figures, found = readings.figures, []
    if figures.oldest_due > settings.alert_outbox_late:
        found.append(Condition("outbox", detail=str(figures.due)))
    if readings.telegram_down > settings.alert_telegram_down:
        found.append(Condition("telegram"))
    for job in figures.jobs:
        failed = job.last_failure_at is not None and (
            job.last_success_at is None or job.last_failure_at > job.last_success_at
        )
        if failed and job.job != BACKUP_JOB:
            found.append(Condition("job", job.job, job.last_error or ""))
    backup = figures.backup
    if backup.failing:
        found.append(Condition("backup", detail=backup.last_error or ""))
    elif backup.last_success is not None and now - backup.last_success > settings.alert_backup_age:
        found.append(Condition("backup"))
    low_share = readings.disk_free * 100 < settings.alert_disk_free_percent * readings.disk_total
    if low_share or readings.disk_free < settings.alert_disk_free_bytes:
        found.append(Condition("disk", detail=str(readings.disk_free)))
    return found


async def update_incidents(db: Connection, conditions: list[Condition], *, now: datetime) -> None:
    """Open an incident for each condition that began to hold, close those that stopped."""
    async with transaction(db):
        current = {(i.kind, i.subject): i for i in await incidents.list_open(db)}
        held = {(c.kind, c.subject): c for c in conditions}
        for key, condition in held.items():
            if key not in current:
                await incidents.open_incident(db, *key, condition.detail, now=now)
        for key, incident in current.items():
            if key not in held:
                await incidents.close_incident(db, incident.id, now=now)


async def untold(db: Connection) -> list[Incident]:
    """Incidents whose beginning or end the admins have not been told yet."""
    return await incidents.list_untold(db)


async def told(db: Connection, incident: Incident, *, over: bool, now: datetime) -> None:
    """Record that the admins were told the incident began (or, `over`, ended)."""
    async with transaction(db):
        await incidents.mark_told(db, incident.id, over=over, now=now)
