"""The figures /metrics reads from the database (either engine): job outcomes, due messages,
bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.config import Settings
from bot.jobs.planning import JobRun
from bot.jobs.registry import JobSpec, run_planner
from bot.rendering import Renderer
from bot.services import outbox
from bot.services.health import database_answers, gather_figures
from tests.conftest import NOW, SECRET_KEY

SETTINGS = Settings.from_env({"BOT_TOKEN": "1:x", "SECRET_KEY": SECRET_KEY})
DAY = date(2026, 11, 24)


@pytest.fixture
def db(engine_db):
    return engine_db


async def _broken(run: JobRun) -> int:
    raise LookupError("a planner that fails")


async def _nothing(run: JobRun) -> int:
    return 0


async def _run(db, plan, *, now=NOW):
    spec = JobSpec("sweep", (time(8, 0),), plan)
    return await run_planner(
        spec, time(8, 0), db=db, renderer=Renderer(), settings=SETTINGS, day=DAY, now=now
    )


async def test_a_failed_job_is_counted_with_its_class_and_a_success_clears_nothing(db):
    with pytest.raises(LookupError):
        await _run(db, _broken)
    (job,) = (await gather_figures(db, now=NOW)).jobs
    assert (job.job, job.failures, job.last_error) == ("sweep", 1, "LookupError")
    assert job.last_success_at is None
    assert job.last_failure_at == NOW

    later = NOW + timedelta(minutes=5)
    await _run(db, _nothing, now=later)
    (job,) = (await gather_figures(db, now=later)).jobs
    assert (job.failures, job.last_success_at, job.last_failure_at) == (1, later, NOW)


async def test_due_messages_leave_out_reminders_held_by_quiet_hours(db):
    night = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 22:00 WIB
    planned = [
        outbox.Planned("staff:1", 9001, "staff", "a staff notice"),
        outbox.Planned("reminder:1", 6001, "reminder", "a reminder"),
    ]
    await outbox.enqueue_many(db, planned, now=night - timedelta(minutes=30), quiet=None)
    figures = await gather_figures(db, now=night)
    assert figures.due == 1  # the reminder waits for the morning: it is not late
    assert figures.oldest_due == timedelta(minutes=30)
    assert figures.outbox == {("staff", "queued"): 1, ("reminder", "queued"): 1}
    assert figures.backup.last_success is None
    assert figures.database_bytes > 0
    assert figures.bookings == {}
    assert figures.failed_checks == 0
    assert figures.burst is False


async def test_the_database_answers(db):
    await database_answers(db)
