"""Queue jobs: the no-show sweep after closing time, scheduled in WIB on PTB's JobQueue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

from telegram.ext import CallbackContext

from bot.cli import main
from bot.engine import open_database
from bot.jobs import run_slot
from bot.jobs.registry import job_spec
from bot.services.booking import book
from bot.services.schedule import free_slots
from bot.storage.service_points import get_service_point
from tests.conftest import NOW, PEOPLE


async def _book_today(settings, who="unrecorded"):
    conn = await open_database(settings)
    point = await get_service_point(conn, "kanigoro")
    slot = (await free_slots(conn, point, NOW.date(), now=NOW))[0]
    booking = await book(
        conn,
        chat_id=8001,
        nik=PEOPLE[who].nik,
        service="rekam",
        point_code="kanigoro",
        start_at=slot.start_at,
        now=NOW,
    )
    await conn.close()
    return booking


async def _state(settings, booking_id):
    conn = await open_database(settings)
    async with conn.execute("SELECT state FROM bookings WHERE id = ?", (booking_id,)) as cur:
        (state,) = await cur.fetchone()
    await conn.close()
    return state


async def test_jobs_are_scheduled_in_wib(running_bot):
    jobs = {job.name: job for job in running_bot.job_queue.jobs()}
    assert {"no-show-sweep", "waitlist-offer-expiry"} <= jobs.keys()
    next_run = jobs["no-show-sweep"].next_t.astimezone(UTC)
    assert (next_run.hour, next_run.minute) == (16, 30)  # 23:30 WIB


async def test_sweep_marks_unattended_bookings_and_tells_the_citizen(
    running_bot, botapi, settings, clock
):
    citizen = botapi.user(8001)
    booking = await _book_today(settings)
    clock.at = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 23:30 WIB
    spec = job_spec("no-show-sweep")
    assert await run_slot(CallbackContext(running_bot), spec, time(23, 30)) == 1
    await citizen.no_message(within=0.3)  # not at night
    clock.at = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 WIB
    running_bot.bot_data["sender"].wake()
    assert "tidak hadir" in (await citizen.next_message()).text
    assert await _state(settings, booking.id) == "no_show"


async def test_run_job_no_show_sweep_for_a_date(population, settings, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # "" on SQLite
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    booking = await _book_today(settings)

    def run_job(day: str) -> int:  # the CLI runs its own event loop
        return main(["run-job", "no-show-sweep", "--date", day])

    assert await asyncio.to_thread(run_job, "2026-11-23") == 0
    assert "no-show-sweep 2026-11-23: 0 new messages planned" in capsys.readouterr().out
    assert await asyncio.to_thread(run_job, "2026-11-24") == 0
    out = capsys.readouterr().out
    assert "no-show-sweep 2026-11-24: 1 new messages planned" in out
    assert "stay queued until the bot runs" in out  # no token here: the bot delivers later
    assert await _state(settings, booking.id) == "no_show"
    assert await asyncio.to_thread(run_job, "2026-11-24") == 0  # twice: nothing more
    assert "no-show-sweep 2026-11-24: 0 new messages planned" in capsys.readouterr().out
