"""The demo's timeline, from its first moment: the last annual deactivation, already done (Ani
was deactivated in it), and the next one's preview, which the admin's hint sends the visitor to.

The bot's preview job prepares a cycle's preview on its first run after the recording deadline
(bot/jobs/deactivation.py). A fresh world with no run on record would get last April's preview
on the first jump; the sandbox records that cycle as previewed and applied, as a real office's
database would have it, so the next preview comes on the day after the next deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import aiosqlite

from bot.config import TIMEZONE
from bot.jobs.registry import job_spec, scheduled_at
from bot.services.cycle import Cycle
from bot.services.deactivation import cycle_ended_before, prepare_preview
from bot.storage import deactivation as runs

APPROVED_AFTER = timedelta(days=6)  # the admin approved the preview the week it came


@dataclass(frozen=True)
class Deactivation:
    """A cycle's deactivation: when its preview came and when an admin applied it."""

    cycle: Cycle
    previewed: datetime
    applied: datetime

    @property
    def applied_on(self) -> date:
        """The day (WIB) its NIKs became NONAKTIF."""
        return self.applied.astimezone(TIMEZONE).date()


def preview_moment(cycle: Cycle) -> datetime:
    """When the preview job sends the cycle's preview: its slot the day after the deadline."""
    (at,) = job_spec("deactivation-preview").times
    return scheduled_at(cycle.deadline + timedelta(days=1), at)


def last_deactivation(now: datetime) -> Deactivation:
    """The latest cycle whose preview came before `now`, as applied a few days later (by `now`
    at the latest)."""
    cycle = cycle_ended_before(now.astimezone(TIMEZONE).date())
    if preview_moment(cycle) > now:  # the morning after the deadline, before the job ran
        cycle = cycle_ended_before(cycle.deadline)
    previewed = preview_moment(cycle)
    return Deactivation(cycle, previewed, min(previewed + APPROVED_AFTER, now))


def next_preview(now: datetime) -> datetime:
    """When the admins get the next deactivation preview, the first after `now`."""
    last = last_deactivation(now).cycle
    following = Cycle(
        last.cohort_date.replace(year=last.cohort_date.year + 1),
        last.deadline.replace(year=last.deadline.year + 1),
    )
    return preview_moment(following)


async def record_deactivation(
    db: aiosqlite.Connection, done: Deactivation, *, admin_id: int
) -> None:
    """Put the cycle's run on record as previewed and applied, without replaying it: the sample
    population (bot/sample.py) already stands for the residents after past deactivations."""
    previewed = done.previewed
    run = await prepare_preview(db, day=previewed.astimezone(TIMEZONE).date(), now=previewed)
    await runs.mark_applied(db, run.id, admin_id=admin_id, count=run.total, now=done.applied)
