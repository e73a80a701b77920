"""The nightly backup job: a checked copy a day, 7 daily and 4 weekly copies kept, each outcome
recorded for /metrics and the alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.clock import FixedClock
from bot.config import TIMEZONE, Settings
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.rendering import Renderer
from bot.services.backup import BackupFailed, check_copy, last_backup, to_keep
from tests.conftest import SECRET_KEY

NIGHT = time(2, 0)


@pytest.fixture
def backup_settings(tmp_path) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_PATH": str(tmp_path / "test.sqlite3"),  # the `db` fixture's file
            "SECRET_KEY": SECRET_KEY,
            "BACKUP_DIR": str(tmp_path / "backups"),
        },
        require_token=False,
    )


async def run_backup_job(db, settings: Settings, clock: FixedClock) -> int:
    """The job as the JobQueue runs it: today (WIB) and now from the clock."""
    today = clock.now().astimezone(TIMEZONE).date()
    return await run_planner(
        job_spec("backup"),
        NIGHT,
        db=db,
        renderer=Renderer(),
        settings=settings,
        day=today,
        now=clock.now(),
    )


async def test_forty_nights_leave_seven_daily_and_four_weekly_copies(db, backup_settings):
    folder = backup_settings.backup_dir
    folder.mkdir(mode=0o700)
    (folder / "before-the-upgrade.sqlite3").write_bytes(b"kept by hand")  # not the job's
    clock = FixedClock(scheduled_at(date(2026, 11, 1), NIGHT))  # a Sunday
    for _ in range(40):  # Sunday 1 November to Thursday 10 December 2026
        assert await run_backup_job(db, backup_settings, clock) == 0  # no message planned
        clock.advance(timedelta(days=1))

    weekly = ["2026-11-08", "2026-11-15", "2026-11-22", "2026-11-29"]  # Sundays
    daily = [f"2026-12-{d:02}" for d in range(4, 11)]  # Friday 4 to Thursday 10 December
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["before-the-upgrade.sqlite3", *(f"dukcapil-{d}.sqlite3" for d in weekly + daily)]
    )
    newest = check_copy(folder / "dukcapil-2026-12-10.sqlite3")  # a sound database of this bot
    assert newest.migrations > 0
    status = await last_backup(db)
    assert status.last_success == datetime(2026, 12, 9, 19, 0, tzinfo=UTC)  # 10 Dec 02:00 WIB
    assert status.last_file == "dukcapil-2026-12-10.sqlite3"
    assert (status.last_failure, status.last_error, status.failing) == (None, None, False)


async def test_a_second_run_on_the_same_day_replaces_that_days_copy(db, backup_settings):
    clock = FixedClock(scheduled_at(date(2026, 11, 24), NIGHT))
    await run_backup_job(db, backup_settings, clock)
    await run_backup_job(db, backup_settings, clock)
    assert [p.name for p in backup_settings.backup_dir.iterdir()] == ["dukcapil-2026-11-24.sqlite3"]


async def test_a_failed_backup_is_recorded_with_its_error_class(db, backup_settings):
    clock = FixedClock(scheduled_at(date(2026, 11, 24), NIGHT))
    await run_backup_job(db, backup_settings, clock)
    backup_settings.backup_dir.rename(backup_settings.backup_dir.with_name("moved"))
    backup_settings.backup_dir.write_text("a file where the folder should be")
    clock.advance(timedelta(days=1))
    with pytest.raises(BackupFailed):
        await run_backup_job(db, backup_settings, clock)
    status = await last_backup(db)
    assert status.last_success == scheduled_at(date(2026, 11, 24), NIGHT)
    assert status.last_failure == scheduled_at(date(2026, 11, 25), NIGHT)
    assert status.last_error == "NotADirectoryError"
    assert status.failing

    backup_settings.backup_dir.unlink()  # fixed: the next night succeeds
    clock.advance(timedelta(days=1))
    await run_backup_job(db, backup_settings, clock)
    status = await last_backup(db)
    assert status.last_success == scheduled_at(date(2026, 11, 26), NIGHT)
    assert status.last_error == "NotADirectoryError"  # the last failure stays on record
    assert not status.failing


def test_days_without_a_copy_leave_the_daily_ones_reaching_further_back():
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(0, 40, 2)]  # every other day
    weekly = [date(2026, 11, d) for d in (1, 7, 15, 21)]  # each week's newest copy
    daily = [date(2026, 11, 27), date(2026, 11, 29), *(date(2026, 12, d) for d in (1, 3, 5, 7, 9))]
    assert sorted(to_keep(days)) == weekly + daily
