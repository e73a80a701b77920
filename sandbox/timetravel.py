"""Moving the sandbox clock: every scheduled job slot passed on the way runs, in time order.

Each slot runs through the job registry with `now` at its scheduled moment, exactly as
`dukcapil-bot run-job` does; planners write to the outbox and the bot's sender delivers.
A planner that fails is reported with its slot, and the others still run.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta

import aiosqlite

from bot.config import TIMEZONE, Settings
from bot.jobs.registry import JobSpec, all_jobs, run_planner, scheduled_at
from bot.rendering import Renderer

log = logging.getLogger(__name__)

MAX_JUMP = timedelta(days=400)  # a jump past a whole annual cycle, and not much more
# A jump makes no backups: a year's jump would copy the demo database 365 times for nothing.
SKIPPED = {"backup"}


@dataclass(frozen=True)
class SlotRun:
    """One job slot run during a jump: when it ran, what it planned, or why it failed."""

    slot: str
    day: str
    at: str  # WIB, HH:MM
    planned: int
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        """For the page."""
        return asdict(self)


def slots_between(start: datetime, end: datetime) -> list[tuple[datetime, JobSpec, time]]:
    """Every (moment, job, time of day) scheduled in (start, end], earliest first."""
    first, last = start.astimezone(TIMEZONE).date(), end.astimezone(TIMEZONE).date()
    found = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        for spec in (spec for spec in all_jobs() if spec.name not in SKIPPED):
            for at in spec.times:
                moment = scheduled_at(day, at)
                if start < moment <= end:
                    found.append((moment, spec, at))
    found.sort(key=lambda item: item[0])
    return found


async def run_slots(
    start: datetime,
    end: datetime,
    *,
    db: aiosqlite.Connection,
    renderer: Renderer,
    settings: Settings,
) -> list[SlotRun]:
    """Run the slots scheduled in (start, end]; one failing planner never stops the rest."""
    runs = []
    for moment, spec, at in slots_between(start, end):
        day = moment.astimezone(TIMEZONE).date()
        label = (spec.slot(at), day.isoformat(), at.strftime("%H:%M"))
        try:
            planned = await run_planner(
                spec, at, db=db, renderer=renderer, settings=settings, day=day, now=moment
            )
        except Exception as error:  # NotImplementedError while a planner is being written
            log.exception("sandbox: job %s on %s failed", *label[:2])
            runs.append(SlotRun(*label, planned=0, error=f"{type(error).__name__}: {error}"))
            continue
        runs.append(SlotRun(*label, planned=planned))
    return runs
