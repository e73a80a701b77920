"""Every scheduled job by name: when it runs (WIB) and the planner that does its work.

A planner (see bot/jobs/planning.py) writes what it decides on to the outbox and returns how
many messages it planned (the backup writes a copy instead and plans none). The same planner
serves the JobQueue, the start-up catch-up and `dukcapil-bot run-job NAME --date D`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.config import TIMEZONE, Settings
from bot.db import transaction
from bot.engine import Connection
from bot.jobs.backup import run_backup
from bot.jobs.deactivation import plan_deactivation_preview
from bot.jobs.digest import plan_daily_digest
from bot.jobs.drive_desk import plan_drive_lists, plan_drive_outcomes
from bot.jobs.escalation import plan_escalations
from bot.jobs.pickup import plan_card_pickup
from bot.jobs.planning import JobRun, Planner
from bot.jobs.queue import plan_no_show_sweep
from bot.jobs.reminders import (
    plan_booking_reminders,
    plan_deactivated_reminders,
    plan_deadline_reminders,
    plan_teen_reminders,
)
from bot.jobs.weekly_report import plan_weekly_report
from bot.rendering import Renderer
from bot.services.health import record_job_outcome
from bot.storage import job_health, job_runs

CATCH_UP_DAYS = 7  # a bot down longer than this does not replay older countdown points


@dataclass(frozen=True)
class JobSpec:
    """A job's name, its times of day (WIB) and its planner."""

    name: str
    times: tuple[time, ...]
    plan: Planner

    def slot(self, at: time) -> str:
        """The job_runs name of one daily run (a job may run at several times a day)."""
        return self.name if len(self.times) == 1 else f"{self.name}@{at:%H:%M}"


JOBS = (
    JobSpec("teen-reminders", (time(8, 0),), plan_teen_reminders),
    JobSpec("deadline-reminders", (time(8, 15),), plan_deadline_reminders),
    JobSpec("deactivated-reminders", (time(8, 30),), plan_deactivated_reminders),
    JobSpec("booking-reminders", (time(6, 30), time(16, 0)), plan_booking_reminders),
    JobSpec("no-show-sweep", (time(23, 30),), plan_no_show_sweep),
    JobSpec("deactivation-preview", (time(9, 0),), plan_deactivation_preview),
    JobSpec("daily-digest", (time(7, 0),), plan_daily_digest),
    JobSpec("card-pickup", (time(8, 45),), plan_card_pickup),
    JobSpec("backup", (time(2, 0),), run_backup),  # after the no-show sweep, at night
    JobSpec("unconfirmed-bookings", (time(16, 0),), plan_escalations),
    JobSpec("drive-lists", (time(18, 0),), plan_drive_lists),
    JobSpec("drive-summaries", (time(7, 30),), plan_drive_outcomes),  # after the night's sweep
    JobSpec("weekly-report", (time(7, 0),), plan_weekly_report),  # Mondays
)
JOB_NAMES = tuple(spec.name for spec in JOBS)
_BY_NAME = {spec.name: spec for spec in JOBS}


def job_spec(name: str) -> JobSpec:
    """The job with this name; KeyError for an unknown one."""
    return _BY_NAME[name]


def all_jobs() -> list[JobSpec]:
    """Every job, in JOBS order."""
    return list(JOBS)


def scheduled_at(day: date, at: time) -> datetime:
    """The UTC moment of `at` WIB on `day`."""
    return datetime.combine(day, at, tzinfo=TIMEZONE).astimezone(UTC)


async def run_planner(
    spec: JobSpec,
    at: time,
    *,
    db: Connection,
    renderer: Renderer,
    settings: Settings,
    day: date,
    now: datetime,
) -> int:
    """Run one daily slot of a job for `day` and record it; return the messages planned."""
    slot = spec.slot(at)
    last = await job_runs.last_day(db, slot)
    since = day  # first run ever, or a re-run: just this day
    if last is not None and last < day:
        since = max(last + timedelta(days=1), day - timedelta(days=CATCH_UP_DAYS))
    run = JobRun(db=db, renderer=renderer, settings=settings, day=day, now=now, since=since)
    try:
        planned = await spec.plan(run)
    except Exception as error:  # recorded for /metrics and the admins' alert, then raised
        await record_job_outcome(db, slot, now=now, error=error)
        raise
    async with transaction(db):
        await job_runs.record(db, slot, day, planned=planned, now=now)
        await job_health.record_success(db, slot, now=now)
    return planned


async def missed_slots(db: Connection, now: datetime) -> list[tuple[JobSpec, time]]:
    """Today's slots whose time has passed without a run: the start-up catch-up list.

    Only slots that have run before count: a fresh installation starts with the next slot.
    """
    local = now.astimezone(TIMEZONE)
    missed = []
    for spec in all_jobs():
        for at in spec.times:
            if local.time().replace(tzinfo=None) < at:
                continue
            last = await job_runs.last_day(db, spec.slot(at))
            if last is not None and last < local.date():
                missed.append((spec, at))
    return missed
