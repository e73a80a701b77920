"""End to end: a mobile recording drive (perekaman keliling) for the staff who run it and the
officials who invite to it. The list arrives the evening before (time travel to 18:00 WIB) with
its CSV; on the day the staff check visitors in by QR code and "recorded" re-activates a
deactivated NIK; the morning after, the admins and the area's officials get the summary. An
official invites to a drive of their area with a button to book a place; an official of another
area is refused that drive."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, time

import pytest
from telegram.ext import CallbackContext

from bot.config import TIMEZONE
from bot.jobs import run_slot
from bot.jobs.registry import job_spec, scheduled_at
from bot.services import drives
from bot.services.directory import get_resident, note_chat
from bot.services.links import link_chat
from bot.services.roles import add_user
from botapi.server import BOT_USERNAME
from tests.conftest import ADMIN_ID, NOW, OFFICIAL_ID, PEOPLE, STAFF_ID

# NOW: Tuesday 24 November 2026, 10:00 WIB. Rudi and Ani live in Kecamatan Srengat; Ani's NIK
# was deactivated. The drive is at a Srengat school on Thursday, run by Kanigoro's staff (the
# suite's staff member). The suite's official is Kanigoro's; Srengat's is added here.
DAY = date(2026, 11, 26)
SRENGAT_OFFICIAL = 9010
RUDI_CHAT, ANI_CHAT = 7001, 7002
RUDI, ANI = PEOPLE["unrecorded"], PEOPLE["deactivated"]


def wib(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TIMEZONE)


async def create(db, name: str, area: str):
    return await drives.create_drive(
        db,
        admin=None,
        name=name,
        place=f"{name}, Jl. Raya 1",
        day=DAY,
        hours="08:00-10:00",
        capacity=4,
        area=area,
        service_point="kanigoro",
        now=NOW,
        rng=random.Random(area),
    )


@pytest.fixture
async def drive(running_bot, botapi):
    """The Srengat drive with Rudi and Ani booked; Srengat's official; Rudi's household linked
    to his chat (so an invitation in Srengat has a recipient)."""
    db = running_bot.bot_data["db"]
    await add_user(db, SRENGAT_OFFICIAL, "official", service_point=None, area="35.05.03", now=NOW)
    await note_chat(db, SRENGAT_OFFICIAL, locale="id", now=NOW)
    for chat in (SRENGAT_OFFICIAL, RUDI_CHAT, ANI_CHAT):
        botapi.user(chat)
    planned = await create(db, "SMAN 1 Srengat", "350503")
    for chat, who, hour in ((RUDI_CHAT, RUDI, 8), (ANI_CHAT, ANI, 9)):
        await drives.book_at_drive(
            db, planned.code, chat_id=chat, nik=who.nik, start_at=wib(DAY, hour), now=NOW
        )
    rudi = await get_resident(db, RUDI.nik)
    await link_chat(db, RUDI_CHAT, rudi, household=True, now=NOW)
    return planned


async def run_job(app, clock, name: str, day: date, at: time) -> int:
    """Travel to `at` WIB on `day` and run the job's slot as the JobQueue would."""
    clock.at = scheduled_at(day, at)
    return await run_slot(CallbackContext(app), job_spec(name), at)


def codes_of(text: str) -> list[str]:
    return [part.split("</code>")[0] for part in text.split("<code>")[1:]]


async def test_the_staffs_list_the_evening_before_then_check_in_and_recorded(
    running_bot, botapi, clock, drive
):
    staff = botapi.user(STAFF_ID)
    assert await run_job(running_bot, clock, "drive-lists", date(2026, 11, 25), time(18)) == 1
    listing = await staff.next_message()
    assert "Daftar perekaman keliling" in listing.text
    assert "SMAN 1 Srengat" in listing.text
    assert "Kamis, 26 November 2026, 08.00–10.00 WIB" in listing.html
    assert RUDI.nama in listing.text
    assert ANI.nama in listing.text
    assert RUDI.nik not in listing.text
    assert ANI.nik not in listing.text
    rudi_code, ani_code = codes_of(listing.html)[1:3]  # after the drive's own code
    assert await run_job(running_bot, clock, "drive-lists", date(2026, 11, 25), time(18)) == 0
    await staff.no_message(within=0.3)  # once

    staff.press(listing, f"dv:csv:{drive.code}")
    document = await staff.next_message()
    assert document.method == "sendDocument"
    assert document.message["document"]["file_name"] == f"keliling-{drive.code}-2026-11-26.csv"
    content = botapi.sim.files[document.message["document"]["file_id"]].data.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(content))) == [
        ["waktu", "kode", "nama"],
        ["08:00", rudi_code, RUDI.nama],
        ["09:00", ani_code, ANI.nama],
    ]
    assert ANI.nik not in content
    assert "****" not in content

    clock.at = wib(DAY, 9, 5)  # the drive's day: Ani shows her QR code
    staff.send_text(f"/masuk DUKCAPIL:{ani_code}")
    checked = await staff.next_message()
    assert ani_code in checked.text
    staff.press(checked, next(d for _, d in checked.buttons if d.startswith("st:out:recorded:")))
    told = await botapi.user(ANI_CHAT).next_message()
    assert "Ani Lestari sudah selesai; NIK-nya aktif" in told.text
    db = running_bot.bot_data["db"]
    ani = await get_resident(db, ANI.nik)
    assert (ani.status_nik, ani.tanggal_rekam) == ("AKTIF", DAY)


async def test_the_summary_goes_to_the_admins_and_the_areas_officials_the_morning_after(
    running_bot, botapi, clock, drive
):
    staff = botapi.user(STAFF_ID)
    clock.at = wib(DAY, 8, 5)
    staff.send_text(f"/daftar_keliling {drive.code.lower()}")  # on demand, on the day
    rudi_code = codes_of((await staff.next_message()).html)[1]
    staff.send_text(f"/masuk {rudi_code}")
    checked = await staff.next_message()
    staff.press(checked, next(d for _, d in checked.buttons if d.startswith("st:out:recorded:")))
    await botapi.user(RUDI_CHAT).next_message()  # Rudi is told he is recorded
    # Ani does not come: the night's sweep marks her a no-show
    await run_job(running_bot, clock, "no-show-sweep", DAY, time(23, 30))
    assert (
        await run_job(running_bot, clock, "drive-summaries", date(2026, 11, 27), time(7, 30)) == 2
    )
    for chat in (ADMIN_ID, SRENGAT_OFFICIAL):
        summary = await botapi.user(chat).next_message()
        assert "Ringkasan perekaman keliling" in summary.text
        assert "Tempat: 16 · antrean: 2 · datang: 1 · direkam: 1 · tidak datang: 1" in summary.text
        assert (
            "• Kauman: antrean 2, datang 1, direkam 1" in summary.text
            or "antrean 2, datang 1" in summary.text
        )
    await botapi.user(OFFICIAL_ID).no_message(within=0.3)  # Kanigoro's official: not their area
    assert (
        await run_job(running_bot, clock, "drive-summaries", date(2026, 11, 27), time(7, 30)) == 0
    )


async def test_an_official_invites_to_a_drive_of_their_area_with_a_button_to_book(
    running_bot, botapi, drive
):
    official = botapi.user(SRENGAT_OFFICIAL)
    official.send_text("/siaran")
    official.press(await official.next_message(), "sr:t:mobile")
    choice = await official.next_message()
    assert "Perekaman keliling terjadwal di wilayah Srengat" in choice.text
    assert [d for _, d in choice.buttons] == [f"sr:d:{drive.code}"]
    official.press(choice, f"sr:d:{drive.code}")
    official.press(await official.next_message(), "sr:a:linked")
    preview, confirm = await official.next_message(), await official.next_message()
    link = f"https://t.me/{BOT_USERNAME}?start=drv_{drive.code}"
    assert "SMAN 1 Srengat" in preview.text
    assert "Hari: Kamis, 26 November 2026, pukul 08.00–10.00 WIB" in preview.text
    assert preview.buttons == [("🗓 Pesan tempat perekaman keliling", link)]
    assert "Penerima: 1 chat" in confirm.text
    official.press(confirm, "sr:ok")
    assert "Siaran #1" in (await official.next_message()).text
    invitation = await botapi.user(RUDI_CHAT).next_message()
    assert invitation.html == preview.html
    assert invitation.buttons == [("🗓 Pesan tempat perekaman keliling", link)]


async def test_an_official_of_another_area_cannot_pick_the_drive(running_bot, botapi, drive):
    db = running_bot.bot_data["db"]
    own = await create(db, "SMPN 1 Kanigoro", "350510")  # Kanigoro's official has one of theirs
    official = botapi.user(OFFICIAL_ID)
    official.send_text("/siaran")
    official.press(await official.next_message(), "sr:t:mobile")
    choice = await official.next_message()
    assert [d for _, d in choice.buttons] == [f"sr:d:{own.code}"]  # Srengat's is not offered
    official.press(choice, f"sr:d:{drive.code}", raw=True)  # forged: Srengat's drive
    refusal = await official.next_message()
    assert "tidak bisa Anda umumkan" in refusal.text
    official.press(choice, "sr:a:linked", raw=True)  # the flow is over: nothing goes out
    assert "tidak berlaku" in (await official.next_message()).text
    async with db.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 0
    async with db.execute(
        "SELECT detail FROM audit_log WHERE actor_id = ? AND action = 'broadcast:drive'",
        (OFFICIAL_ID,),
    ) as cursor:
        assert [row[0] async for row in cursor] == [f"refused drive={drive.code}"]
