"""End to end: bookings that nobody would confirm. A point whose staff the bot cannot reach
confirms by itself and says so; a booking still pending at 16:00 WIB the day before is escalated
to the admins once, and an admin confirms it with the message's button."""

from __future__ import annotations

import asyncio
from datetime import date, time

import pytest
from telegram.ext import CallbackContext

from bot.app import prepare_database
from bot.cli import main
from bot.jobs import run_slot
from bot.jobs.registry import job_spec, scheduled_at
from bot.services.booking import book as book_slot
from bot.services.directory import note_chat
from bot.services.roles import add_user
from bot.services.schedule import free_slots
from bot.storage.service_points import get_service_point
from tests.conftest import ADMIN_ID, NOW, PEOPLE, STAFF_ID
from tests.e2e.test_booking import book, data_of, db_row
from tests.e2e.test_staff_notices import reschedule

TOMORROW = "2026-11-25"
FOUR_PM = time(16, 0)
JOB = "unconfirmed-bookings"


def code_of(confirmation) -> str:
    return confirmation.html.split("<code>")[1].split("</code>")[0]


async def pop_up(admin, query: str) -> dict:
    """The pop-up answering the admin's press (asked after it: updates are handled in order)."""
    admin.send_text("/konfirmasi")
    assert "/konfirmasi KODE" in (await admin.next_message()).text
    answers = [a for a in admin.callback_answers if a["callback_query_id"] == query]
    assert len(answers) == 1, admin.callback_answers
    assert answers[0].get("show_alert") is True
    return answers[0]


async def add_staff(settings, telegram_id: int, point: str) -> None:
    conn = await prepare_database(settings)
    await add_user(conn, telegram_id, "staff", service_point=point, area=None, now=NOW)
    await conn.close()


@pytest.mark.usefixtures("running_bot")
@pytest.mark.parametrize("staff", ["none", "never opened the bot"])
async def test_a_point_no_staff_would_hear_from_confirms_by_itself(botapi, settings, staff):
    if staff != "none":
        await add_staff(settings, 9020, "tla-wlingi")  # registered, but never wrote to the bot
    _, confirmation, _, _ = await book(botapi, 7101, "unrecorded", point="tla-wlingi")
    assert "TLA Wlingi" in confirmation.text
    assert "Status: dikonfirmasi" in confirmation.text
    assert "tidak perlu menunggu kabar petugas" in confirmation.text
    assert "menunggu konfirmasi" not in confirmation.text
    code = code_of(confirmation)
    assert tuple(await db_row(settings, "SELECT state FROM bookings WHERE code = ?", code)) == (
        "confirmed",
    )
    await botapi.user(STAFF_ID).no_message(within=0.3)  # Kanigoro's staff are not asked


@pytest.mark.usefixtures("running_bot")
async def test_a_point_whose_staff_opened_the_bot_still_waits_for_them(botapi, settings):
    await add_staff(settings, 9021, "tla-wlingi")
    wlingi = botapi.user(9021)
    wlingi.send_text("/start")  # the staff member opens the bot
    await wlingi.next_message()
    _, confirmation, _, _ = await book(botapi, 7102, "unrecorded", point="tla-wlingi")
    assert "menunggu konfirmasi petugas" in confirmation.text
    assert code_of(confirmation) in (await wlingi.next_message()).text


async def test_a_booking_still_pending_at_four_pm_goes_to_the_admins_once(
    running_bot, botapi, settings, clock
):
    staff, admin = botapi.user(STAFF_ID), botapi.user(ADMIN_ID)
    user, confirmation, _, _ = await book(botapi, 7103, "unrecorded", day=TOMORROW)
    code = code_of(confirmation)
    assert code in (await staff.next_message()).text  # staff were told, and did nothing
    spec = job_spec(JOB)
    clock.at = scheduled_at(date(2026, 11, 24), FOUR_PM)
    assert await run_slot(CallbackContext(running_bot), spec, FOUR_PM) == 1  # the one admin
    assert await run_slot(CallbackContext(running_bot), spec, FOUR_PM) == 0  # twice: once
    escalated = await admin.next_message()
    assert code in escalated.text
    assert "Perekaman e-KTP" in escalated.text
    assert "Kantor Dispendukcapil Kabupaten Blitar" in escalated.text
    assert "Rabu, 25 November 2026" in escalated.text
    person = PEOPLE["unrecorded"]
    assert person.nik not in escalated.text
    assert person.kk not in escalated.text
    await admin.no_message(within=0.3)
    admin.press(escalated, data_of(escalated, "esc:ok:"))
    assert "dikonfirmasi" in (await admin.next_message()).text
    assert "dikonfirmasi" in (await user.next_message()).text
    assert tuple(await db_row(settings, "SELECT state FROM bookings WHERE code = ?", code)) == (
        "confirmed",
    )
    query = admin.press(escalated, data_of(escalated, "esc:ok:"))  # a second press: no change
    assert "dikonfirmasi" in (await pop_up(admin, query))["text"]


@pytest.mark.usefixtures("running_bot")
async def test_an_admin_confirms_by_code(botapi, settings):
    user, confirmation, _, _ = await book(botapi, 7104, "unrecorded", day=TOMORROW)
    code = code_of(confirmation)
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/konfirmasi")
    assert "/konfirmasi KODE" in (await admin.next_message()).text
    admin.send_text(f"/konfirmasi {code.lower()}")
    assert "dikonfirmasi" in (await admin.next_message()).text
    assert "dikonfirmasi" in (await user.next_message()).text
    staff = botapi.user(STAFF_ID)
    assert code in (await staff.next_message()).text  # the notice they did not act on
    assert (await staff.next_message()).method == "editMessageText"  # now saying it is confirmed
    staff.send_text(f"/konfirmasi {code}")  # staff confirm with their own button
    assert "hanya untuk" in (await staff.next_message()).text


async def test_run_job_escalates_once(population, settings, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # "" on SQLite
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    conn = await prepare_database(settings)
    await note_chat(conn, STAFF_ID, locale="id", now=NOW)  # Kanigoro's staff can be told
    point = await get_service_point(conn, "kanigoro")
    assert point is not None
    slot = (await free_slots(conn, point, date(2026, 11, 25), now=NOW))[0]
    booking = await book_slot(
        conn,
        chat_id=8001,
        nik=PEOPLE["unrecorded"].nik,
        service="rekam",
        point_code="kanigoro",
        start_at=slot.start_at,
        now=NOW,
    )
    await conn.close()
    assert booking.state == "pending"

    def run_job() -> int:  # the CLI runs its own event loop
        return main(["run-job", JOB, "--date", "2026-11-24"])

    assert await asyncio.to_thread(run_job) == 0
    assert f"{JOB} 2026-11-24: 1 new messages planned" in capsys.readouterr().out
    assert await asyncio.to_thread(run_job) == 0
    assert f"{JOB} 2026-11-24: 0 new messages planned" in capsys.readouterr().out


async def test_an_escalation_moved_since_is_refused_with_the_booking_as_it_is_now(
    running_bot, botapi, settings, clock
):
    """The citizen moves the booking after the admins were told: the old message's Confirm
    would confirm a date the admin never saw; it is refused with a pop-up, nothing changes."""
    admin = botapi.user(ADMIN_ID)
    user, confirmation, _, _ = await book(botapi, 7105, "unrecorded", day=TOMORROW)
    code = code_of(confirmation)
    clock.at = scheduled_at(date(2026, 11, 24), FOUR_PM)
    assert await run_slot(CallbackContext(running_bot), job_spec(JOB), FOUR_PM) == 1
    escalated = await admin.next_message()
    assert code in escalated.text

    await reschedule(user, "2026-11-26")
    answer = await pop_up(admin, admin.press(escalated, data_of(escalated, "esc:ok:")))
    assert "Kamis, 26 November 2026" in answer["text"]
    assert "menunggu konfirmasi" in answer["text"]
    assert tuple(
        await db_row(settings, "SELECT state, day FROM bookings WHERE code = ?", code)
    ) == (
        "pending",
        "2026-11-26",
    )
