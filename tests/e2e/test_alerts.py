"""The admins' alerts (issue 17): each kind raised once while it lasts, and over once, against
the real Application and the local Bot API server. The job is run by hand with the clock moved
(the JobQueue runs it every minute only in `dukcapil-bot run`: build_application(watch=True))."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

import pytest
from telegram.error import NetworkError
from telegram.ext import CallbackContext

from bot.jobs.alerts import check_alerts
from bot.jobs.planning import JobRun
from bot.jobs.registry import JobSpec, job_spec, run_planner
from bot.services import outbox
from tests.conftest import ADMIN_ID, STAFF_ID


@pytest.fixture
async def bot(running_bot):
    assert running_bot.job_queue is not None
    assert running_bot.job_queue.get_jobs_by_name("alerts") == ()  # nothing runs in between
    return running_bot


async def tick(app) -> None:
    await check_alerts(CallbackContext(app))


async def told(botapi, app, *, ticks: int = 1) -> list[str]:
    """The alert texts the admin got over `ticks` runs of the job."""
    admin = botapi.user(ADMIN_ID)
    before = len(admin.inbox)
    for _ in range(ticks):
        await tick(app)
    return [message.text for message in admin.inbox[before:]]


async def test_a_stuck_outbox(bot, botapi, clock):
    sender, db = bot.bot_data["sender"], bot.bot_data["db"]
    await sender.stop()  # the sender is stuck
    staff_notice = outbox.Planned("staff:alert-test", STAFF_ID, "staff", "Halo petugas")
    await outbox.enqueue_many(db, [staff_notice], now=clock.now(), quiet=None)
    clock.advance(timedelta(minutes=9))
    assert await told(botapi, bot) == []  # not late enough yet
    clock.advance(timedelta(minutes=2))

    (alert,) = await told(botapi, bot, ticks=2)  # told once, though it lasts
    assert "Antrean pesan macet: 1 pesan jatuh tempo" in alert
    assert "lebih dari 10 menit" in alert

    sender.start(bot.bot_data["settings"].database_path)
    await botapi.user(STAFF_ID).next_message()
    (over,) = await told(botapi, bot, ticks=2)
    assert over.startswith("✅ Sudah teratasi")
    assert "Antrean pesan macet" in over


async def test_telegram_unreachable_is_told_once_it_answers_again(bot, botapi, clock):
    botapi.faults.down()
    with pytest.raises(NetworkError):
        await bot.bot.get_me()
    clock.advance(timedelta(minutes=6))
    await tick(bot)  # the alert cannot go out yet
    botapi.faults.up()

    began, over = await told(botapi, bot, ticks=3)
    assert "Telegram tidak dapat dihubungi selama lebih dari 5 menit" in began
    assert over.startswith("✅ Sudah teratasi")
    assert await told(botapi, bot) == []


async def _broken(run: JobRun) -> int:
    raise LookupError("a planner that fails")


async def _fine(run: JobRun) -> int:
    return 0


async def run_job(app, clock, plan) -> None:
    d = app.bot_data
    spec = JobSpec("card-pickup", (time(8, 45),), plan)
    await run_planner(
        spec,
        time(8, 45),
        db=d["db"],
        renderer=d["renderer"],
        settings=d["settings"],
        day=clock.now().date(),
        now=clock.now(),
    )


async def test_a_failed_job(bot, botapi, clock):
    with pytest.raises(LookupError):
        await run_job(bot, clock, _broken)
    (alert,) = await told(botapi, bot, ticks=2)
    assert "Tugas terjadwal card-pickup gagal (LookupError)." in alert
    assert "a planner that fails" not in alert  # the class only, never the message

    clock.advance(timedelta(minutes=1))
    await run_job(bot, clock, _fine)
    (over,) = await told(botapi, bot, ticks=2)
    assert over.startswith("✅ Sudah teratasi")
    assert "card-pickup" in over


async def backup_into(app, clock, folder) -> None:
    d = app.bot_data
    d["settings"] = dataclasses.replace(d["settings"], backup_dir=folder)
    spec = job_spec("backup")
    await run_planner(
        spec,
        spec.times[0],
        db=d["db"],
        renderer=d["renderer"],
        settings=d["settings"],
        day=clock.now().date(),
        now=clock.now(),
    )


async def test_a_failed_backup_and_an_old_one(bot, botapi, clock, tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(Exception, match="backup into"):
        await backup_into(bot, clock, tmp_path / "not-a-folder")
    (alert,) = await told(botapi, bot, ticks=2)
    assert "Pencadangan malam gagal (" in alert
    assert "Tugas terjadwal" not in alert  # one alert: the backup's, not also the job's

    clock.advance(timedelta(minutes=1))
    await backup_into(bot, clock, tmp_path / "backups")
    (over,) = await told(botapi, bot, ticks=2)
    assert over.startswith("✅ Sudah teratasi")

    clock.advance(timedelta(hours=27))
    (old,) = await told(botapi, bot, ticks=2)
    assert "Cadangan terbaru berumur lebih dari 26 jam" in old
    await backup_into(bot, clock, tmp_path / "backups")
    (over,) = await told(botapi, bot, ticks=2)
    assert over.startswith("✅ Sudah teratasi")


async def test_a_nearly_full_disk(bot, botapi):
    settings = bot.bot_data["settings"]
    bot.bot_data["settings"] = dataclasses.replace(settings, alert_disk_free_percent=100)
    (alert,) = await told(botapi, bot, ticks=2)  # every disk has less than 100 % free
    assert "Ruang disk basis data hampir habis: tersisa" in alert

    bot.bot_data["settings"] = dataclasses.replace(
        settings, alert_disk_free_percent=1, alert_disk_free_bytes=1
    )
    (over,) = await told(botapi, bot, ticks=2)
    assert over.startswith("✅ Sudah teratasi")
