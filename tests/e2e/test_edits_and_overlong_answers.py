"""End to end: an edited message is never a step's answer, and an over-long answer is asked for
again at once. Each was found by tests/e2e/test_fuzz.py and is pinned down by the input
that found it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.engine import open_database
from bot.services.booking import book
from tests.conftest import NOW, PEOPLE, STAFF_ID

pytestmark = pytest.mark.usefixtures("running_bot")


async def test_an_edited_message_is_not_taken_as_the_steps_answer(botapi):
    user = botapi.user(7801)
    user.send_text("/cek")
    await user.next_message()
    typed = user.send_text("1234")
    assert "4 digit" in (await user.next_message()).text
    user.edit_text(typed, PEOPLE["recorded"].nik)  # was: AssertionError in got_nik
    assert "kirim lagi sebagai pesan baru" in (await user.next_message()).text
    user.send_text(PEOPLE["recorded"].nik)  # the check still waits for the NIK
    assert "nomor Kartu Keluarga" in (await user.next_message()).text


@pytest.fixture
async def conn(settings):
    """A second connection to the running bot's database."""
    connection = await open_database(settings)
    yield connection
    await connection.close()


async def test_an_edit_in_a_staff_group_is_not_taken_as_a_rejection_reason(botapi, conn):
    botapi.user(7802)
    booking = await book(
        conn,
        chat_id=7802,
        nik=PEOPLE["turning17"].nik,
        service="rekam",
        point_code="kanigoro",
        start_at=datetime(2026, 11, 24, 6, tzinfo=UTC),
        now=NOW,
    )
    staff = botapi.user(STAFF_ID)
    group = botapi.group(-100780, title="Petugas Kanigoro")
    said = staff.send_text("/hari_ini", chat=group)
    staff.press(await group.next_message(), f"st:no:{booking.id}", raw=True)
    assert "alasan" in (await group.next_message()).text
    staff.edit_text(said, "tidak datang")  # was: AssertionError in reject, an apology
    await group.no_message(within=0.5)
    async with conn.execute("SELECT state FROM bookings WHERE id = ?", (booking.id,)) as cur:
        assert tuple(await cur.fetchone()) == ("pending",)


async def test_a_long_description_is_asked_again_at_once(botapi):
    person = PEOPLE["recorded"]
    user = botapi.user(7803)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/lapor")
    user.press(await user.next_message(), "tk:cause:other")
    await user.next_message()
    user.send_text("é" * 4096)  # was: a summary over Telegram's 4,096 characters, refused
    assert "keterangan 3–200 karakter" in (await user.next_message()).text
    user.send_text("retak di pojok")
    user.press(await user.next_message(), "tk:who:0")
    user.press(await user.next_message(), "tk:skip")
    user.press(await user.next_message(), "tk:pt:kanigoro")
    assert "retak di pojok" in (await user.next_message()).text
