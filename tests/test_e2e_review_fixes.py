"""End to end: booking for someone verified on the way, erasing a chat with bookings,
a full day's queue for staff, and the morning "still coming?" question's own buttons."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from bot import db as dbmod
from bot.nik import make_nik
from bot.services.booking import book as book_service
from bot.services.importer import import_residents
from bot.services.schedule import free_slots
from bot.storage.bookings import get_booking
from bot.storage.service_points import get_service_point
from bot.views.bookings import still_coming
from tests.conftest import HEADER, NOW, PEOPLE, STAFF_ID
from tests.test_e2e_booking import book, data_of, db_row


async def test_booking_for_someone_verified_on_the_way(running_bot, botapi, settings):
    person = PEOPLE["unrecorded"]
    user = botapi.user(7401)
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rekam")
    people = await user.next_message()
    user.press(people, "bk:who:new")
    assert "NIK" in (await user.next_message()).text
    user.send_text(person.nik)  # must not start /cek
    assert "Kartu Keluarga" in (await user.next_message()).text
    user.send_text(person.kk)
    points = await user.next_message()
    assert "Pilih tempat layanan" in points.text
    assert data_of(points, "bk:pt:")


async def test_erasing_a_chat_cancels_its_bookings_and_keeps_the_lockout(
    running_bot, botapi, settings
):
    user, confirmation, _, _ = await book(botapi, 7402, "unrecorded")
    code = confirmation.html.split("<code>")[1].split("</code>")[0]
    known = PEOPLE["recorded"]
    for _ in range(5):
        user.send_text(f"/cek {known.nik} {PEOPLE['unrecorded'].kk}")
        await user.next_message()
    user.send_text("/hapus_data")
    ask = await user.next_message()
    user.press(ask, "erase:yes")
    assert "sudah dihapus" in (await user.next_message()).text
    state, chat = await db_row(settings, "SELECT state, chat_id FROM bookings WHERE code = ?", code)
    assert (state, chat) == ("cancelled", 0)
    user.send_text(f"/cek {known.nik} {known.kk}")
    assert "coba lagi pukul" in (await user.next_message()).text  # erasing is no way around it


async def test_a_full_day_queue_is_split_for_staff(running_bot, botapi, settings, tmp_path):
    conn = await dbmod.connect(settings.database_path, settings.secret_key)
    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER.split(","))
        for n in range(70):
            nik = make_nik("350510", date(1990, 1, 1 + n % 28), "L", 100 + n)
            row = [nik, "3505100101900099", f"Warga {n}", date(1990, 1, 1 + n % 28).isoformat()]
            writer.writerow([*row, "L", "KAWIN", "35.05.10.2001", "", "AKTIF"])
    await import_residents(conn, path, now=NOW)
    point = await get_service_point(conn, "kanigoro")
    slots = await free_slots(conn, point, NOW.date(), now=NOW)
    async with conn.execute(
        "SELECT unseal(nik_sealed, 'residents.nik_sealed', nik_ref) FROM residents"
        " WHERE unseal(nama_sealed, 'residents.nama_sealed', nik_ref) LIKE 'Warga %'"
    ) as cur:
        niks = [row[0] for row in await cur.fetchall()]
    for n, nik in enumerate(niks):
        await book_service(
            conn,
            chat_id=20_000 + n,
            nik=nik,
            service="rekam",
            point_code="kanigoro",
            start_at=slots[n // 10].start_at,
            now=NOW,
        )
    await conn.close()
    staff = botapi.user(STAFF_ID)
    staff.send_text("/hari_ini")
    first = await staff.next_message()
    second = await staff.next_message()
    assert "(1/2)" in first.text
    assert "(2/2)" in second.text
    assert all(len(m.text) <= 4096 for m in (first, second))
    assert data_of(second, "st:all")
    times = [line.split()[1] for line in first.text.splitlines() if line[:1].isdigit()]
    assert times == sorted(times)


async def test_morning_question_buttons_keep_or_release(running_bot, botapi, settings):
    user, confirmation, _, _ = await book(botapi, 7403, "unrecorded")
    code = confirmation.html.split("<code>")[1].split("</code>")[0]
    (booking_id,) = await db_row(settings, "SELECT id FROM bookings WHERE code = ?", code)
    conn = await dbmod.connect(settings.database_path, settings.secret_key)
    booking = await get_booking(conn, booking_id)
    point = await get_service_point(conn, booking.service_point)
    await conn.close()
    # the question as the morning reminders job builds it (bot/jobs/reminders.py)
    text, markup = still_coming(running_bot.bot_data["renderer"], "id", booking, point)
    await running_bot.bot.send_message(booking.chat_id, text, reply_markup=markup)
    question = await user.next_message()
    assert "Masih akan datang" in question.text
    user.press(question, f"bk:coming:{booking_id}")
    assert "sampai jumpa" in (await user.next_message()).text
    await running_bot.bot.send_message(booking.chat_id, text, reply_markup=markup)
    again = await user.next_message()
    user.press(again, f"bk:release:{booking_id}")
    assert "dilepas" in (await user.next_message()).text
    assert tuple(await db_row(settings, "SELECT state FROM bookings WHERE id = ?", booking_id)) == (
        "released",
    )


pytestmark = pytest.mark.usefixtures("running_bot")
