"""End to end: a booking's staff notices stay true (issue 16, outdated staff notices). When the
booking changes, its earlier notices are edited to say so and lose their buttons; a button
pressed on an outdated notice is refused with the booking as it is now and changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

import pytest
from telegram.ext import CallbackContext

from bot.app import prepare_database
from bot.jobs import run_slot
from bot.jobs.registry import job_spec
from bot.services.roles import add_user
from tests.conftest import ADMIN_ID, NOW, STAFF_ID
from tests.e2e.test_booking import book, data_of, db_row

pytestmark = pytest.mark.usefixtures("running_bot")


def code_of(confirmation) -> str:
    return confirmation.html.split("<code>")[1].split("</code>")[0]


async def state_of(settings, code: str) -> tuple[str, str]:
    return tuple(await db_row(settings, "SELECT state, day FROM bookings WHERE code = ?", code))


async def reschedule(user, day: str) -> None:
    """Move the chat's one booking to the first slot of `day` through /jadwal."""
    user.send_text("/jadwal")
    listing = await user.next_message()
    user.press(listing, data_of(listing, "jd:move:"))
    calendar = await user.next_message()
    user.press(calendar, f"bk:day:{day}")
    slots = await user.next_message()
    user.press(slots, data_of(slots, "bk:slot:"))
    summary = await user.next_message()
    user.press(summary, "bk:ok")
    for _ in range(3):  # the moved booking, its QR code and the map pin
        await user.next_message()


async def cancel(user) -> None:
    """Cancel the chat's one booking through /jadwal."""
    user.send_text("/jadwal")
    listing = await user.next_message()
    user.press(listing, data_of(listing, "jd:cancel:"))
    ask = await user.next_message()
    user.press(ask, data_of(ask, "jd:drop:"))
    assert "dibatalkan" in (await user.next_message()).text


async def press_old(staff, notice, prefix: str) -> dict:
    """Press a button the notice had when it was sent (it has none now); return the answer.
    /hari_ini after it is answered once the press was handled (updates are handled in order)."""
    query = staff.press(notice, data_of(notice, prefix), raw=True)
    staff.send_text("/hari_ini")
    assert "/hari_ini" not in (await staff.next_message()).text  # the day's queue
    answers = [a for a in staff.callback_answers if a["callback_query_id"] == query]
    assert len(answers) == 1, staff.callback_answers
    return answers[0]


def edit_of(message, notice) -> bool:
    return message.method == "editMessageText" and message.message_id == notice.message_id


async def test_a_moved_bookings_old_notice_is_edited_and_its_buttons_refused(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, confirmation, _, _ = await book(botapi, 7201, "unrecorded", day="2026-11-25")
    code = code_of(confirmation)
    old = await staff.next_message()
    assert code in old.text
    assert "Rabu, 25 November 2026" in old.text

    await reschedule(user, "2026-11-26")
    edited, new = await staff.next_message(), await staff.next_message()
    assert edit_of(edited, old), edited
    assert edited.buttons == []
    assert "dipindah ke Kamis, 26 November 2026" in edited.text
    assert "lihat pemberitahuan baru" in edited.text
    assert new.method == "sendMessage"
    assert code in new.text
    assert "Kamis, 26 November 2026" in new.text
    assert data_of(new, "st:ok:")

    for prefix in ("st:ok:", "st:no:"):  # the old buttons, as if the edit had not arrived
        answer = await press_old(staff, old, prefix)
        assert answer.get("show_alert") is True
        assert "tidak berlaku" in answer["text"]
        assert "Kamis, 26 November 2026" in answer["text"]
        assert "menunggu konfirmasi" in answer["text"]
        assert await state_of(settings, code) == ("pending", "2026-11-26")
    assert not any(m.method == "sendMessage" and "alasan" in m.text for m in staff.inbox)

    staff.press(new, data_of(new, "st:ok:"))  # the new notice still works
    assert "dikonfirmasi" in (await staff.next_message()).text
    assert await state_of(settings, code) == ("confirmed", "2026-11-26")


async def test_a_cancelled_bookings_notice_is_edited_and_its_confirm_refused(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, confirmation, _, _ = await book(botapi, 7202, "unrecorded", day="2026-11-25")
    code = code_of(confirmation)
    notice = await staff.next_message()

    await cancel(user)
    edited = await staff.next_message()
    assert edit_of(edited, notice), edited
    assert edited.buttons == []
    assert f"Antrean {code}: dibatalkan" in edited.text

    answer = await press_old(staff, notice, "st:ok:")
    assert "tidak berlaku" in answer["text"]
    assert "dibatalkan" in answer["text"]
    assert await state_of(settings, code) == ("cancelled", "2026-11-25")


async def test_a_booking_confirmed_by_another_staff_member(botapi, settings):
    conn = await prepare_database(settings)
    await add_user(conn, 9011, "staff", service_point="kanigoro", area=None, now=NOW)
    await conn.close()
    staff, colleague = botapi.user(STAFF_ID), botapi.user(9011)
    _user, confirmation, _, _ = await book(botapi, 7203, "unrecorded", day="2026-11-25")
    code = code_of(confirmation)
    mine, theirs = await staff.next_message(), await colleague.next_message()

    colleague.press(theirs, data_of(theirs, "st:ok:"))
    assert "dikonfirmasi" in (await colleague.next_message()).text
    for member, notice in ((staff, mine), (colleague, theirs)):
        edited = await member.next_message()
        assert edit_of(edited, notice), edited
        assert edited.buttons == []
        assert f"Antrean {code}: dikonfirmasi" in edited.text

    answer = await press_old(staff, mine, "st:no:")  # reject what a colleague confirmed
    assert "tidak berlaku" in answer["text"]
    assert "dikonfirmasi" in answer["text"]
    assert await state_of(settings, code) == ("confirmed", "2026-11-25")


async def sends_recorded(app, *, within: float = 5.0) -> None:
    """Wait until the outcome of every send in flight is written: a message the chat received
    is 'sent' in the outbox only then (on PostgreSQL the write comes noticeably later), and the
    sweep leaves a notice still 'sending' for the next change."""
    db = app.bot_data["db"]
    for _ in range(int(within / 0.02)):
        [(sending,)] = await db.execute_fetchall(
            "SELECT count(*) FROM outbox WHERE state = 'sending'"
        )
        if sending == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{sending} sends still not recorded after {within} s")


async def test_the_no_show_sweep_edits_a_notice_nobody_answered(running_bot, botapi, clock):
    staff = botapi.user(STAFF_ID)
    _, confirmation, _, _ = await book(botapi, 7204, "unrecorded", day="2026-11-24")
    notice = await staff.next_message()
    await sends_recorded(running_bot)
    clock.at = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 23:30 WIB
    spec = job_spec("no-show-sweep")
    assert await run_slot(CallbackContext(running_bot), spec, time(23, 30)) == 2  # and the citizen
    running_bot.bot_data["sender"].wake()
    edited = await staff.next_message()  # staff messages are not held for the night
    assert edit_of(edited, notice), edited
    assert edited.buttons == []
    assert f"Antrean {code_of(confirmation)}: tidak hadir" in edited.text


async def test_a_booking_an_admin_confirmed(botapi, settings):
    staff, admin = botapi.user(STAFF_ID), botapi.user(ADMIN_ID)
    _, confirmation, _, _ = await book(botapi, 7205, "unrecorded", day="2026-11-25")
    code = code_of(confirmation)
    notice = await staff.next_message()
    admin.send_text(f"/konfirmasi {code}")
    assert "dikonfirmasi" in (await admin.next_message()).text
    edited = await staff.next_message()
    assert edit_of(edited, notice), edited
    assert edited.buttons == []
    assert f"Antrean {code}: dikonfirmasi" in edited.text
