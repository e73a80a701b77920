"""Each job's last outcome and planned days, on either engine (the pattern for the
storage modules ported to PostgreSQL: one test, both engines)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.db import transaction
from bot.services.health import record_job_outcome
from bot.storage import job_runs
from bot.storage.job_health import list_job_health, record_success
from tests.conftest import NOW


async def test_failures_are_counted_and_a_success_keeps_them(engine_db):
    await record_job_outcome(engine_db, "sweep", now=NOW, error=LookupError("gone"))
    await record_job_outcome(engine_db, "sweep", now=NOW + timedelta(minutes=1), error=OSError())
    await record_job_outcome(engine_db, "sweep", now=NOW + timedelta(minutes=2))
    await record_job_outcome(engine_db, "digest", now=NOW)
    (digest, sweep) = await list_job_health(engine_db)
    assert (digest.job, digest.failures, digest.last_success_at) == ("digest", 0, NOW)
    assert digest.last_failure_at is None
    assert (sweep.job, sweep.failures, sweep.last_error) == ("sweep", 2, "OSError")
    assert sweep.last_failure_at == NOW + timedelta(minutes=1)
    assert sweep.last_success_at == NOW + timedelta(minutes=2)


async def test_an_outcome_recorded_inside_a_failed_transaction_is_not_kept(engine_db):
    async def record_then_fail():
        async with transaction(engine_db):
            await record_success(engine_db, "sweep", now=NOW)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await record_then_fail()
    assert await list_job_health(engine_db) == []


async def test_a_second_run_of_a_day_adds_its_planned_messages(engine_db):
    day = NOW.date()
    assert await job_runs.last_day(engine_db, "teen") is None
    await job_runs.record(engine_db, "teen", day, planned=3, now=NOW)
    await job_runs.record(engine_db, "teen", day, planned=2, now=NOW + timedelta(minutes=1))
    await job_runs.record(engine_db, "teen", day - timedelta(days=1), planned=1, now=NOW)
    assert await job_runs.last_day(engine_db, "teen") == day
    rows = await engine_db.execute_fetchall(
        "SELECT planned FROM job_runs WHERE job = 'teen' AND day = ?", (day.isoformat(),)
    )
    assert [tuple(row) for row in rows] == [(5,)]
