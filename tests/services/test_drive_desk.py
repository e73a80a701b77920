"""Mobile recording drives for the staff who run them and for those who asked for them: the list
the evening before (and on demand, and as CSV), serving a drive's visitors as at the office, and
the summary after the drive for the admins and the officials of its area."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from datetime import date, datetime, time

import pytest

from bot.config import TIMEZONE, Settings
from bot.db import vault_of
from bot.domain import RoleUser
from bot.errors import WrongServicePoint
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.rendering import Renderer
from bot.services import booking, drive_desk, drives, frontdesk
from bot.services.directory import note_chat
from bot.services.roles import add_user
from bot.storage import bookings, residents
from bot.storage.point_settings import set_staff_chat
from tests.conftest import NOW, PEOPLE, SECRET_KEY, TOKEN
from tests.desk import ADMIN, KANIGORO, OFFICIAL, WLINGI, audit_rows, db_of_each_engine, desk

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)

# NOW is Tuesday 24 November 2026, 10:00 WIB. Rudi and Ani live in Kecamatan Srengat (350503),
# desa 3505032001; Ani's NIK is deactivated.
DAY = date(2026, 11, 26)  # Thursday: the drive
SRENGAT_OFFICIAL = RoleUser(106, "official", None, "350503")
DESA_OFFICIAL = RoleUser(107, "official", None, "3505032001")
RUDI, ANI = PEOPLE["unrecorded"], PEOPLE["deactivated"]
NIK_LIKE = re.compile(r"\d{16}|\d{4}\*+\d{4}")


def wib(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TIMEZONE)


@pytest.fixture
async def drive(desk):
    """A drive for Kecamatan Srengat at a school, run by Kanigoro's staff; Rudi and Ani booked,
    and two officials of Srengat (the kecamatan, one of its desa) who have opened the bot."""
    for official in (SRENGAT_OFFICIAL, DESA_OFFICIAL):
        await add_user(
            desk,
            official.telegram_id,
            "official",
            service_point=None,
            area=official.area_code,
            now=NOW,
        )
        await note_chat(desk, official.telegram_id, locale="en", now=NOW)
    planned = await drives.create_drive(
        desk,
        admin=ADMIN,
        name="Perekaman keliling SMAN 1 Srengat",
        place="SMAN 1 Srengat, Jl. Raya 1",
        day=DAY,
        hours="08:00-10:00",
        capacity=4,
        area="350503",
        service_point="kanigoro",
        now=NOW,
        rng=random.Random(3),
    )
    for chat, (who, hour) in enumerate(((RUDI, 8), (ANI, 9)), start=3000):
        await drives.book_at_drive(
            desk, planned.code, chat_id=chat, nik=who.nik, start_at=wib(DAY, hour), now=NOW
        )
    return planned


async def plan(db, job: str, day: date, at: time) -> int:
    settings = Settings.from_env(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": "unused.sqlite3", "SECRET_KEY": SECRET_KEY}
    )
    return await run_planner(
        job_spec(job),
        at,
        db=db,
        renderer=Renderer(),
        settings=settings,
        day=day,
        now=scheduled_at(day, at),
    )


async def planned(db, like: str) -> list[tuple[str, int, str, str | None]]:
    """(key, chat, text, keyboard) of the outbox messages whose key is like `like`, by key."""
    rows = await db.execute_fetchall(
        "SELECT idempotency_key, chat_id, text, reply_markup"
        " FROM outbox WHERE idempotency_key LIKE ? ORDER BY idempotency_key",
        (like,),
    )
    vault = vault_of(db)
    return [(key, chat, vault.open(text, "outbox.text", chat), kb) for key, chat, text, kb in rows]


def button_data(markup: str | None) -> list[str]:
    rows = json.loads(markup)["inline_keyboard"] if markup else []
    return [b.get("callback_data") for row in rows for b in row]


async def listed(db, staff, code):
    """/daftar_keliling [code] by `staff` today."""
    return await drive_desk.staff_drive_list(db, staff=staff, code=code, today=NOW.date(), now=NOW)


# --- the list ---


async def test_the_evening_before_the_running_points_staff_get_the_list_once(desk, drive):
    assert await plan(desk, "drive-lists", date(2026, 11, 24), time(18)) == 0  # two days ahead
    assert await plan(desk, "drive-lists", date(2026, 11, 25), time(18)) == 1
    assert await plan(desk, "drive-lists", date(2026, 11, 25), time(18)) == 0  # once
    ((key, chat, text, markup),) = await planned(desk, f"drive:{drive.id}:list:%")
    assert chat == KANIGORO.telegram_id  # not Wlingi's staff, nobody else
    assert key == f"drive:{drive.id}:list:2026-11-26:{KANIGORO.telegram_id}:1"
    assert "Kamis, 26 November 2026, 08.00–10.00 WIB" in text
    for who in (RUDI, ANI):
        assert who.nama in text
        assert who.nik not in text
    assert "Antrean: 2 dari 16 tempat" in text  # 4 slots of 4 places
    assert button_data(markup) == [f"dv:csv:{drive.code}"]


async def test_the_list_goes_to_the_points_staff_group_when_it_has_one(desk, drive):
    await set_staff_chat(desk, "kanigoro", -100777)
    assert await plan(desk, "drive-lists", date(2026, 11, 25), time(18)) == 1
    assert [row[1] for row in await planned(desk, "drive:%:list:%")] == [-100777]


async def test_staff_get_the_list_on_demand_and_as_csv_without_any_nik(desk, drive):
    listing = await listed(desk, KANIGORO, None)
    assert listing.drive == drive  # the next drive of the point
    assert [e.name for e in listing.entries] == [RUDI.nama, ANI.nama]
    content = drive_desk.list_csv(listing).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    codes = [e.booking.code for e in listing.entries]
    assert rows == [
        ["waktu", "kode", "nama"],
        ["08:00", codes[0], RUDI.nama],
        ["09:00", codes[1], ANI.nama],
    ]
    assert not NIK_LIKE.search(content)
    assert drive_desk.list_filename(listing) == f"keliling-{drive.code}-2026-11-26.csv"
    by_code = await listed(desk, KANIGORO, drive.code.lower())
    assert by_code.entries == listing.entries


async def test_only_the_running_points_staff_get_a_drives_list(desk, drive):
    with pytest.raises(WrongServicePoint):
        await listed(desk, WLINGI, drive.code)
    refusals = await audit_rows(desk, "drive_list:refused")
    assert refusals == [
        (
            WLINGI.telegram_id,
            "staffdesk:drive_list:refused",
            f"code={drive.code} refused=WrongServicePoint",
        )
    ]
    with pytest.raises(drive_desk.NoDrive):
        await listed(desk, WLINGI, None)
    with pytest.raises(drive_desk.NoDrive):
        await listed(desk, KANIGORO, "ZZZZZZ")
    with pytest.raises(drive_desk.NoDrive) as refused:  # typed text is neither shown nor audited
        await listed(desk, KANIGORO, RUDI.nik)
    assert refused.value.context == {"code": "invalid"}
    assert [row[2] for row in await audit_rows(desk, "drive_list:refused")][-1] == (
        "code=invalid refused=NoDrive"
    )
    await drives.cancel_drive(desk, drive.code, admin=ADMIN, now=NOW)
    with pytest.raises(drive_desk.NoDrive):
        await listed(desk, KANIGORO, drive.code)


# --- serving the drive's visitors ---


async def test_a_recording_at_the_drive_reactivates_a_deactivated_nik(desk, drive):
    listing = await drive_desk.drive_list(desk, drive)
    code = next(e.booking.code for e in listing.entries if e.name == ANI.nama)
    on_the_day = wib(DAY, 9, 5)
    booking = await frontdesk.check_in(desk, f"DUKCAPIL:{code}", staff=KANIGORO, now=on_the_day)
    done = await frontdesk.record_outcome(
        desk, booking.id, "recorded", staff=KANIGORO, now=on_the_day
    )
    assert done.state == "recorded"
    ani = await residents.get_resident(desk, ANI.nik)
    assert (ani.status_nik, ani.tanggal_rekam) == ("AKTIF", DAY)


# --- after the drive ---


async def serve_the_drive(db, drive):
    """Rudi cancels his first booking and books again; he is recorded, Ani does not come."""
    listing = await drive_desk.drive_list(db, drive)
    first, ani = (e.booking for e in listing.entries)
    await booking.cancel(db, first.id, chat_id=first.chat_id, now=NOW)
    rudi = await drives.book_at_drive(
        db, drive.code, chat_id=first.chat_id, nik=RUDI.nik, start_at=wib(DAY, 8, 30), now=NOW
    )
    on_the_day = wib(DAY, 8, 5)
    await frontdesk.check_in(db, rudi.code, staff=KANIGORO, now=on_the_day)
    await frontdesk.record_outcome(db, rudi.id, "recorded", staff=KANIGORO, now=on_the_day)
    await frontdesk.no_show_by_code(db, ani.code, staff=KANIGORO, now=wib(DAY, 10, 30))


async def test_the_summary_counts_places_booked_came_and_recorded_by_desa(desk, drive):
    await serve_the_drive(desk, drive)
    summary = await drive_desk.drive_summary(desk, drive)
    assert (summary.places, summary.booked, summary.came, summary.recorded) == (16, 2, 1, 1)
    assert summary.no_show == 1
    assert [(d.booked, d.came, d.recorded) for d in summary.per_desa] == [(2, 1, 1)]
    assert len(await bookings.list_point_day(desk, drive.point_code, DAY)) == 3  # one cancelled
    assert summary.per_desa[0].name != "3505032001"  # the desa's name, not its code


async def test_the_summary_goes_once_to_the_admins_and_the_areas_officials(desk, drive):
    await serve_the_drive(desk, drive)
    assert await plan(desk, "drive-summaries", DAY, time(7, 30)) == 0  # not before it is over
    assert await plan(desk, "drive-summaries", date(2026, 11, 27), time(7, 30)) == 3
    assert await plan(desk, "drive-summaries", date(2026, 11, 27), time(7, 30)) == 0  # once
    messages = await planned(desk, f"drive:{drive.id}:outcome:%")
    chats = {chat for _, chat, _, _ in messages}
    # Kanigoro's desa official (OFFICIAL) is not told of a drive in Srengat
    assert chats == {ADMIN.telegram_id, SRENGAT_OFFICIAL.telegram_id, DESA_OFFICIAL.telegram_id}
    texts = {chat: text for _, chat, text, _ in messages}
    assert (
        "Tempat: 16 · antrean: 2 · datang: 1 · direkam: <b>1</b> · tidak datang: 1"
        in (texts[ADMIN.telegram_id])
    )
    assert (
        "Places: 16 · booked: 2 · came: 1 · recorded: <b>1</b> · no-show: 1"
        in (texts[SRENGAT_OFFICIAL.telegram_id])
    )
    assert OFFICIAL.telegram_id not in chats
    assert not any(NIK_LIKE.search(text) for text in texts.values())


async def test_a_summary_missed_while_the_bot_was_down_is_sent_late_once(desk, drive):
    await plan(desk, "drive-summaries", date(2026, 11, 25), time(7, 30))  # ran before the drive
    # down on the 27th; the 28th's run covers the drive of the 26th
    assert await plan(desk, "drive-summaries", date(2026, 11, 28), time(7, 30)) == 3
