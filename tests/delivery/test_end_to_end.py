"""End to end: the running bot drains the outbox; blocked chats, restarts and missed jobs."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import time_machine
from telegram.ext import CallbackContext

from bot import db as dbmod
from bot.cli import main
from bot.engine import open_database
from bot.jobs import catch_up
from bot.jobs.registry import job_spec, run_planner
from bot.services import outbox
from bot.services.booking import book
from bot.services.schedule import free_slots
from bot.storage import job_runs
from bot.storage import outbox as store
from bot.storage.service_points import get_service_point
from tests.conftest import NOW, PEOPLE, TOKEN, serve

MORNING = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 WIB, the end of the quiet hours
BOOK_BUTTON = '{"inline_keyboard": [[{"text": "Pesan", "callback_data": "bk:start:rekam"}]]}'


async def plan(db, key, chat_id, *, kind="reminder", text=None, now=NOW):
    return await outbox.enqueue(
        db,
        key=key,
        chat_id=chat_id,
        kind=kind,
        text=text or f"Pengingat <b>{key}</b>",
        reply_markup_json=BOOK_BUTTON,
        now=now,
        quiet=None,
    )


async def state_of(db, key):
    message = await store.get_message_by_key(db, key)
    assert message is not None
    return message


async def settled(db, key, *, within: float = 5.0):
    """Wait until the message has left the queue (the sender works in the background)."""
    for _ in range(int(within / 0.02)):
        message = await state_of(db, key)
        if message.state not in ("queued", "sending"):
            return message
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key} still {message.state} after {within} s")


async def test_the_running_bot_delivers_what_is_planned(running_bot, botapi):
    citizen = botapi.user(7101)
    db = running_bot.bot_data["db"]
    await plan(db, "teen:x:7101:2026-11-24", citizen.id)
    running_bot.bot_data["sender"].wake()
    received = await citizen.next_message()
    assert received.html == "Pengingat <b>teen:x:7101:2026-11-24</b>"
    assert received.buttons == [("Pesan", "bk:start:rekam")]
    sent = await settled(db, "teen:x:7101:2026-11-24")
    assert (sent.state, sent.telegram_message_id) == ("sent", received.message_id)


async def test_a_photo_and_a_document_go_out_with_their_captions_and_are_dropped(
    running_bot, botapi
):
    admin = botapi.user(7111)
    db = running_bot.bot_data["db"]
    png = (Path(__file__).parents[2] / "docs" / "chart-rekap-example.png").read_bytes()
    files = [
        outbox.Attachment("photo", "chart.png", png),
        outbox.Attachment("document", "figures.csv", b"scope,code\nkabupaten,3505\n"),
    ]
    planned = [
        outbox.Planned(f"report:{n}", admin.id, "staff", f"<b>Berkas {n}</b>", file=file)
        for n, file in enumerate(files)
    ]
    assert await outbox.enqueue_many(db, planned, now=NOW, quiet=None) == 2
    running_bot.bot_data["sender"].wake()
    photo, document = await admin.next_message(), await admin.next_message()
    assert (photo.method, photo.html) == ("sendPhoto", "<b>Berkas 0</b>")
    assert botapi.sim.files[photo.message["photo"][0]["file_id"]].data == png
    assert (document.method, document.message["document"]["file_name"]) == (
        "sendDocument",
        "figures.csv",
    )
    assert botapi.sim.files[document.message["document"]["file_id"]].data.startswith(b"scope")
    for n in range(2):
        assert (await settled(db, f"report:{n}")).state == "sent"
    async with db.execute("SELECT count(*) FROM outbox WHERE file IS NOT NULL") as cursor:
        assert await cursor.fetchone() == (0,)  # sent: the files are not kept


async def test_a_blocked_chat_is_reached_again_only_after_it_writes(running_bot, botapi):
    citizen = botapi.user(7102)
    db = running_bot.bot_data["db"]
    citizen.block()
    await plan(db, "r:1", citizen.id)
    running_bot.bot_data["sender"].wake()
    assert (await settled(db, "r:1")).state == "blocked"
    botapi.errors.clear()  # the one 403 was provoked on purpose
    citizen.unblock()
    await plan(db, "r:2", citizen.id)  # born blocked: we do not know they came back
    assert (await state_of(db, "r:2")).state == "blocked"
    await citizen.no_message(within=0.3)

    citizen.send_text("/start")  # they write to the bot again
    await citizen.next_message()  # the welcome
    await plan(db, "r:3", citizen.id)
    running_bot.bot_data["sender"].wake()
    assert (await citizen.next_message()).html == "Pengingat <b>r:3</b>"
    assert (await settled(db, "r:3")).state == "sent"


async def test_messages_in_flight_at_a_crash_are_sent_after_the_restart(
    settings, population, clock, botapi
):
    citizens = [botapi.user(7200 + n) for n in range(3)]
    db = await open_database(settings)
    for citizen in citizens:
        await plan(db, f"r:{citizen.id}", citizen.id)
    claimed = await outbox.claim_due(db, now=NOW, limit=2)  # a crash right after the claim
    assert len(claimed) == 2
    await db.close()

    async with serve(settings, clock) as app:
        for citizen in citizens:
            assert (await citizen.next_message()).html == f"Pengingat <b>r:{citizen.id}</b>"
        for citizen in citizens:
            assert (await settled(app.bot_data["db"], f"r:{citizen.id}")).state == "sent"
            await citizen.no_message(within=0.1)  # exactly once each


async def _book_today(settings):
    conn = await open_database(settings)
    point = await get_service_point(conn, "kanigoro")
    slot = (await free_slots(conn, point, NOW.date(), now=NOW))[0]
    booking = await book(
        conn,
        chat_id=7301,
        nik=PEOPLE["unrecorded"].nik,
        service="rekam",
        point_code="kanigoro",
        start_at=slot.start_at,
        now=NOW,
    )
    await conn.close()
    return booking


async def test_a_job_missed_while_the_bot_was_down_runs_at_start_up_once(
    settings, population, clock, botapi
):
    citizen = botapi.user(7301)
    booking = await _book_today(settings)
    conn = await open_database(settings)
    async with dbmod.transaction(conn):  # the sweep ran yesterday, then the bot went down
        await job_runs.record(conn, "no-show-sweep", date(2026, 11, 23), planned=0, now=NOW)
    await conn.close()
    clock.at = datetime(2026, 11, 24, 16, 45, tzinfo=UTC)  # 23:45 WIB: today's 23:30 was missed

    async with serve(settings, clock) as app:
        db = app.bot_data["db"]
        for _ in range(250):  # the catch-up runs as the bot's first job
            if await job_runs.last_day(db, "no-show-sweep") == date(2026, 11, 24):
                break
            await asyncio.sleep(0.02)
        assert await job_runs.last_day(db, "no-show-sweep") == date(2026, 11, 24)
        notice = await state_of(db, f"booking:{booking.id}:no-show")
        assert (notice.state, notice.not_before) == ("queued", MORNING)  # told after the night
        await citizen.no_message(within=0.3)

        clock.at = MORNING
        app.bot_data["sender"].wake()
        told = await citizen.next_message()
        assert "tidak hadir" in told.text
        assert booking.code in told.text
        await catch_up(CallbackContext(app))  # a second start-up the same day: nothing again
        await citizen.no_message(within=0.3)


async def test_a_fresh_installation_does_not_replay_the_day(running_bot, botapi):
    db = running_bot.bot_data["db"]
    async with db.execute("SELECT count(*) FROM job_runs") as cursor:
        assert (await cursor.fetchone())[0] == 0  # nothing ran before: nothing was "missed"


async def test_daily_jobs_are_scheduled_in_wib_and_never_dropped_when_late(running_bot):
    jobs = {job.name: job for job in running_bot.job_queue.jobs()}
    expected = {
        "teen-reminders": (1, 0),
        "deadline-reminders": (1, 15),
        "deactivated-reminders": (1, 30),
        "booking-reminders@06:30": (23, 30),
        "booking-reminders@16:00": (9, 0),
        "no-show-sweep": (16, 30),
        "deactivation-preview": (2, 0),
        "daily-digest": (0, 0),
    }
    for name, utc_time in expected.items():
        next_run = jobs[name].next_t.astimezone(UTC)
        assert (next_run.hour, next_run.minute) == utc_time, name
        assert jobs[name].job.misfire_grace_time is None, name  # APScheduler's 1 s would drop it
        assert jobs[name].job.coalesce is True


async def test_run_job_delivers_itself_when_no_bot_runs(
    population, settings, botapi, monkeypatch, capsys
):
    citizen = botapi.user(7301)
    booking = await _book_today(settings)
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # "" on SQLite
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_API_URL", settings.bot_api_url)

    def run_job(at: datetime) -> int:  # the CLI runs its own event loop, at this real time
        with time_machine.travel(at, tick=True):
            return main(["run-job", "no-show-sweep", "--date", "2026-11-24"])

    at_night = datetime(2026, 11, 24, 16, 40, tzinfo=UTC)  # 23:40 WIB
    assert await asyncio.to_thread(run_job, at_night) == 0
    out = capsys.readouterr().out
    assert "no-show-sweep 2026-11-24: 1 new messages planned" in out
    assert "delivered 0 messages" in out
    assert "queued: 1 messages, to go out at 2026-11-25 07:00 WIB" in out  # not at night
    await citizen.no_message(within=0.2)

    assert await asyncio.to_thread(run_job, MORNING + timedelta(hours=1)) == 0  # 08:00 WIB
    out = capsys.readouterr().out
    assert "0 new messages planned" in out  # twice: nothing planned twice
    assert "delivered 1 messages" in out
    assert booking.code in (await citizen.next_message()).text
    await citizen.no_message(within=0.2)


async def test_run_job_leaves_delivery_to_the_running_bot(
    running_bot, settings, botapi, clock, monkeypatch, capsys
):
    citizen = botapi.user(7301)
    clock.at = datetime(2026, 11, 24, 16, 31, tzinfo=UTC)  # the bot's clock: 23:31 WIB
    booking = await _book_today(settings)
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # "" on SQLite
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_API_URL", settings.bot_api_url)
    result = await asyncio.to_thread(main, ["run-job", "no-show-sweep", "--date", "2026-11-24"])
    assert result == 0
    assert "the running bot delivers them" in capsys.readouterr().out
    clock.at = MORNING
    assert booking.code in (await citizen.next_message(timeout=5)).text  # within its poll


async def test_planning_a_job_twice_for_a_day_plans_nothing_twice(running_bot, settings):
    await _book_today(settings)
    db = running_bot.bot_data["db"]
    spec = job_spec("no-show-sweep")
    moment = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    args = {"db": db, "renderer": running_bot.bot_data["renderer"], "settings": settings}
    first = await run_planner(spec, time(23, 30), **args, day=NOW.date(), now=moment)
    again = await run_planner(
        spec, time(23, 30), **args, day=NOW.date(), now=moment + timedelta(minutes=5)
    )
    assert (first, again) == (1, 0)


async def test_messages_sent_while_the_bot_was_down_are_answered(
    settings, population, clock, botapi
):
    citizen = botapi.user(7401)
    citizen.send_text("/start")  # during a restart: Telegram keeps the update
    async with serve(settings, clock):
        welcome = await citizen.next_message()
        assert welcome.buttons  # the /start menu
