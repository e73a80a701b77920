"""End to end: a mobile recording drive in /antre and behind its deep link; a full drive offers
the waitlist; someone outside its area neither sees it nor books it."""

from __future__ import annotations

from datetime import date

import pytest

from bot.engine import open_database
from bot.services import drives
from tests.conftest import NOW, PEOPLE

pytestmark = pytest.mark.usefixtures("running_bot")

DAY = date(2026, 11, 26)  # Thursday; NOW is Tuesday 24 November 2026, 10:00 WIB


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data and data.startswith(prefix))


async def plan(settings, **changes):
    """A drive at a Srengat school for the whole kecamatan (Rudi's and Ani's), run by TLA
    Srengat; planned on the command line while the bot runs."""
    given = {
        "admin": None,
        "name": "Perekaman keliling SMAN 1 Srengat",
        "place": "SMAN 1 Srengat",
        "day": DAY,
        "hours": "08:00-09:00",
        "capacity": 2,
        "area": "350503",
        "service_point": "tla-srengat",
        "latitude": -8.081,
        "longitude": 112.071,
        "now": NOW,
    }
    conn = await open_database(settings)
    try:
        return await drives.create_drive(conn, **(given | changes))
    finally:
        await conn.close()


async def db_rows(settings, sql, *args):
    conn = await open_database(settings)
    try:
        return [tuple(row) for row in await conn.execute_fetchall(sql, args)]
    finally:
        await conn.close()


async def verified(botapi, user_id: int, who: str):
    """The chat verified the person with /cek (so the person steps offer them)."""
    user, person = botapi.user(user_id), PEOPLE[who]
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    return user


async def points_for(botapi, user_id: int, who: str):
    """/antre for a recording up to the list of places."""
    user = await verified(botapi, user_id, who)
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rekam")
    people = await user.next_message()
    user.press(people, data_of(people, "bk:who:0"))
    return user, await user.next_message()


async def book_first_slot(user, calendar):
    """From a drive's calendar to the confirmation and its QR (the map pin, if any, follows)."""
    assert [data for _, data in calendar.buttons if data.startswith("bk:day:")] == [
        f"bk:day:{DAY.isoformat()}"
    ]
    user.press(calendar, f"bk:day:{DAY.isoformat()}")
    slots = await user.next_message()
    user.press(slots, data_of(slots, "bk:slot:"))
    summary = await user.next_message()
    user.press(summary, "bk:ok")
    return [await user.next_message() for _ in range(2)]


async def test_the_areas_citizen_sees_the_drive_first_and_books_it(botapi, settings):
    drive = await plan(settings)
    user, points = await points_for(botapi, 7101, "unrecorded")
    assert "Perekaman keliling di wilayah Anda" in points.text
    label, data = points.buttons[0]
    assert data == f"bk:pt:{drive.point_code}"
    assert label.startswith("🚐 Perekaman keliling SMAN 1 Srengat")
    assert f"bk:pt:{drive.point_code}" not in [d for _, d in points.buttons[1:]]
    user.press(points, data)
    confirmation, qr = await book_first_slot(user, await user.next_message())
    pin = await user.next_message()
    assert "Perekaman keliling SMAN 1 Srengat" in confirmation.text
    assert "Kamis, 26 November 2026" in confirmation.text
    assert qr.method == "sendPhoto"
    assert pin.method == "sendVenue"
    assert (pin.raw["latitude"], pin.raw["longitude"]) == (-8.081, 112.071)
    rows = await db_rows(settings, "SELECT service_point, day, state FROM bookings")
    assert rows == [(drive.point_code, DAY.isoformat(), "confirmed")]


async def test_a_citizen_outside_the_area_does_not_see_it(botapi, settings):
    drive = await plan(settings)
    _, points = await points_for(botapi, 7102, "turning17")  # Dewi lives in Kanigoro
    assert "keliling" not in points.text
    assert f"bk:pt:{drive.point_code}" not in [data for _, data in points.buttons]
    assert points.buttons[0][1] == "bk:pt:kec-kanigoro"  # her nearest office, as before


async def test_the_deep_link_opens_the_booking_at_the_drive(botapi, settings):
    drive = await plan(settings, latitude=None, longitude=None)  # no pin given
    user = await verified(botapi, 7103, "deactivated")  # Ani, of Srengat, NIK deactivated
    user.send_text(f"/start drv_{drive.code}")
    who = await user.next_message()
    assert "SMAN 1 Srengat" in who.text
    assert "Kamis, 26 November 2026" in who.text
    user.press(who, data_of(who, "bk:who:0"))
    confirmation, _ = await book_first_slot(user, await user.next_message())
    assert "Antrean Anda tercatat" in confirmation.text
    user.send_text("/jadwal")
    listing = await user.next_message()  # no map pin came before it
    assert listing.method == "sendMessage"
    assert "Perekaman keliling SMAN 1 Srengat" in listing.text
    rows = await db_rows(settings, "SELECT service_point FROM bookings")
    assert rows == [(drive.point_code,)]


async def test_the_deep_link_answers_politely_outside_the_area_and_when_cancelled(botapi, settings):
    drive = await plan(settings)
    dewi = await verified(botapi, 7104, "turning17")
    dewi.send_text(f"/start drv_{drive.code}")
    who = await dewi.next_message()
    dewi.press(who, data_of(who, "bk:who:0"))
    assert "khusus untuk warga wilayah" in (await dewi.next_message()).text
    conn = await open_database(settings)
    try:
        await drives.cancel_drive(conn, drive.code, admin=None, now=NOW)
    finally:
        await conn.close()
    rudi = botapi.user(7105)
    rudi.send_text(f"/start drv_{drive.code}")
    assert "sudah dibatalkan atau sudah lewat" in (await rudi.next_message()).text
    assert await db_rows(settings, "SELECT count(*) FROM bookings") == [(0,)]


async def test_a_full_drive_offers_the_waitlist(botapi, settings):
    drive = await plan(settings, hours="08:00-08:30", capacity=1)  # one place in all
    rudi, points = await points_for(botapi, 7106, "unrecorded")
    rudi.press(points, f"bk:pt:{drive.point_code}")
    await book_first_slot(rudi, await rudi.next_message())
    ani = await verified(botapi, 7107, "deactivated")
    ani.send_text(f"/start drv_{drive.code}")
    who = await ani.next_message()
    ani.press(who, data_of(who, "bk:who:0"))
    full = await ani.next_message()
    assert "sudah penuh" in full.text
    ani.press(full, "bk:wait")
    joined = await ani.next_message()
    assert "daftar tunggu" in joined.text
    waiting = await db_rows(
        settings, "SELECT service_point, first_day, last_day, state FROM waitlist"
    )
    assert waiting == [(drive.point_code, DAY.isoformat(), DAY.isoformat(), "waiting")]
