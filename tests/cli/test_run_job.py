"""`dukcapil-bot run-job NAME --date D` runs every scheduled job, on SQLite and on PostgreSQL
(DATABASE_URL) alike: each plans the same messages for the same office on both engines.

The office: the planted residents (tests/conftest.py) with a chat linked to the teen and one to
the Lestari household (a resident never recorded, one deactivated), a booking at Kanigoro for
Wednesday 25 November 2026 nobody confirmed, a drive on Thursday 26 November with one booking,
and a damaged card ready for pick-up until 24 December. Each job runs on a day it has work."""

from __future__ import annotations

import asyncio

import pytest

from bot.cli import main
from bot.db import transaction, vault_of
from bot.engine import open_database
from bot.jobs.registry import JOB_NAMES, job_spec
from bot.leases import SENDING, Leases
from bot.services.booking import book
from bot.services.directory import note_chat
from bot.services.drives import book_at_drive, create_drive
from bot.services.links import link_chat
from bot.services.schedule import free_slots
from bot.storage.residents import get_resident
from bot.storage.service_points import get_service_point
from tests.conftest import ADMIN_ID, KK_LESTARI, NOW, OFFICIAL_ID, PEOPLE, STAFF_ID, TOKEN
from tests.services.test_tickets import advance, report_damaged

TEEN_CHAT, LESTARI_CHAT, DRIVE_CHAT = 7501, 7502, 7503

# Each job, the day it runs for, and what it prints: one line per daily run (a job that runs
# twice a day prints two), "<slot> <day>: N new messages planned".
RUNS = {
    "teen-reminders": ("2026-12-15", [1]),  # Dewi turns 17
    "deadline-reminders": ("2027-03-31", [1]),  # 30 days before the cycle's deadline: Rudi
    "deactivated-reminders": ("2026-11-24", [1]),  # Ani, on the day her NIK was deactivated
    "booking-reminders": ("2026-11-24", [0, 1]),  # 06:30 nothing today; 16:00 tomorrow's visit
    "unconfirmed-bookings": ("2026-11-24", [1]),  # still pending the day before: the admin
    "drive-lists": ("2026-11-25", [1]),  # tomorrow's drive: Kanigoro's staff
    "daily-digest": ("2026-11-25", [2]),  # Kanigoro's staff and the admin
    "no-show-sweep": ("2026-11-25", [1]),  # nobody came on Wednesday
    "drive-summaries": ("2026-11-27", [2]),  # the drive of the day before: admin and official
    "weekly-report": ("2026-11-30", [6]),  # Monday, to the admin: figures, 4 charts, the CSV
    "card-pickup": ("2026-12-17", [1]),  # 7 days before the pick-up deadline
    "deactivation-preview": ("2027-05-01", [1]),  # the day after the deadline: the admin
    "backup": ("2026-11-24", [0]),  # a copy, no message
}


def test_every_job_is_run_here():
    assert sorted(RUNS) == sorted(JOB_NAMES)


@pytest.fixture
async def office(settings, population, monkeypatch, tmp_path):
    """The command line on the `settings` database (either engine), the office planted in it."""
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # "" on SQLite
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)  # the messages stay queued for the bot
    conn = await open_database(settings)
    try:
        await _plant(conn)
    finally:
        await conn.close()


async def _plant(db) -> None:
    for chat in (STAFF_ID, OFFICIAL_ID, ADMIN_ID):
        await note_chat(db, chat, locale="id", now=NOW)  # they have opened the bot
    teen = await get_resident(db, PEOPLE["turning17"].nik)
    await link_chat(db, TEEN_CHAT, teen, household=False, now=NOW)
    lestari = await get_resident(db, PEOPLE["unrecorded"].nik)
    assert lestari.no_kk == KK_LESTARI
    await link_chat(db, LESTARI_CHAT, lestari, household=True, now=NOW)
    async with transaction(db):  # Ani's NIK was deactivated on NOW's day
        await db.execute(
            "UPDATE residents SET deactivated_on = ? WHERE nik_ref = ?",
            ("2026-11-24", vault_of(db).ref(PEOPLE["deactivated"].nik)),
        )
    kanigoro = await get_service_point(db, "kanigoro")
    slot = (await free_slots(db, kanigoro, NOW.date().replace(day=25), now=NOW))[0]
    booking = await book(
        db,
        chat_id=LESTARI_CHAT,
        nik=PEOPLE["unrecorded"].nik,
        service="rekam",
        point_code="kanigoro",
        start_at=slot.start_at,
        now=NOW,
    )
    assert booking.state == "pending"  # Kanigoro's staff can be told: it waits for them
    drive = await create_drive(
        db,
        admin=None,
        name="Perekaman keliling SMAN 1 Kanigoro",
        place="Aula SMAN 1 Kanigoro",
        day=NOW.date().replace(day=26),
        hours="08:00-12:00",
        capacity=10,
        area="35.05.10",
        service_point="kanigoro",
        now=NOW,
    )
    slot = (await free_slots(db, drive.point, drive.day, now=NOW))[0]
    await book_at_drive(
        db,
        drive.code,
        chat_id=DRIVE_CHAT,
        nik=PEOPLE["turning17"].nik,
        start_at=slot.start_at,
        now=NOW,
    )
    ticket = await report_damaged(db, chat=TEEN_CHAT)
    await advance(db, ticket, "ready")  # to be picked up by 24 December


@pytest.mark.engines("sqlite", "postgresql")
@pytest.mark.usefixtures("office")
async def test_every_job_runs_and_plans_the_same_on_either_engine(capsys):
    printed = {}
    for name, (day, _) in RUNS.items():
        code = await asyncio.to_thread(main, ["run-job", name, "--date", day])
        out, err = capsys.readouterr()
        assert code == 0, (name, out, err)
        printed[name] = [line for line in out.splitlines() if "new messages planned" in line]
    assert printed == {
        name: [
            f"{slot} {day}: {count} new messages planned"
            for slot, count in zip(_slots(name), counts, strict=True)
        ]
        for name, (day, counts) in RUNS.items()
    }


def _slots(name: str) -> list[str]:
    spec = job_spec(name)
    return [spec.slot(at) for at in spec.times]


@pytest.mark.engines("postgresql")
@pytest.mark.usefixtures("office")
async def test_a_worker_that_sends_delivers_what_run_job_planned(
    settings, botapi, monkeypatch, capsys
):
    """While a worker (on any machine) holds the outbox's lock, run-job only plans; once none
    runs, run-job sends what is due itself, paced by the workers' shared budget."""
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_API_URL", settings.bot_api_url)
    admin = botapi.user(ADMIN_ID)
    run_job = ["run-job", "unconfirmed-bookings", "--date", "2026-11-24"]
    worker = await Leases.open(settings.database_url)
    try:
        assert await worker.try_hold(SENDING)
        assert await asyncio.to_thread(main, run_job) == 0
        out = capsys.readouterr().out
        assert "unconfirmed-bookings 2026-11-24: 1 new messages planned" in out
        assert "a running bot worker delivers them" in out
        await admin.no_message(within=0.3)
    finally:
        await worker.close()  # the worker stopped
    assert await asyncio.to_thread(main, run_job) == 0
    out = capsys.readouterr().out
    assert "unconfirmed-bookings 2026-11-24: 0 new messages planned" in out
    assert "delivered 1 messages" in out
    assert "Konfirmasi" in (await admin.next_message()).text
