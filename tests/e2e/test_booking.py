"""End to end: a citizen books a visit; staff confirm, reject, check in and record it."""

from __future__ import annotations

import pytest

from bot.crypto import Vault
from bot.engine import open_database
from tests.conftest import ADMIN_ID, NOW, PEOPLE, STAFF_ID

pytestmark = pytest.mark.usefixtures("running_bot")


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data.startswith(prefix))


async def book(
    botapi, user_id: int, who: str, service: str = "rekam", *, point="kanigoro", day=None
):
    """Verify with /cek, then walk /antre to the end; return the confirmation messages."""
    person = PEOPLE[who]
    user = botapi.user(user_id)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, f"bk:svc:{service}")
    people = await user.next_message()
    user.press(people, data_of(people, "bk:who:0"))
    points = await user.next_message()
    user.press(points, f"bk:pt:{point}")
    calendar = await user.next_message()
    user.press(calendar, f"bk:day:{day}" if day else data_of(calendar, "bk:day:"))
    slots = await user.next_message()
    user.press(slots, data_of(slots, "bk:slot:"))
    summary = await user.next_message()
    user.press(summary, "bk:ok")
    confirmation = await user.next_message()
    qr = await user.next_message()
    pin = await user.next_message()
    return user, confirmation, qr, pin


async def db_row(settings, sql, *args):
    conn = await open_database(settings)
    async with conn.execute(sql, args) as cur:
        row = await cur.fetchone()
    await conn.close()
    return row


async def test_full_booking_flow_for_recording(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, confirmation, qr, pin = await book(botapi, 7001, "unrecorded", day="2026-11-25")
    assert "Antrean Anda tercatat" in confirmation.text
    assert "Rabu, 25 November 2026" in confirmation.text
    assert "gratis" in confirmation.text
    assert "Kartu Keluarga" in confirmation.text
    code = confirmation.html.split("<code>")[1].split("</code>")[0]
    assert len(code) == 6
    assert not set(code) & set("01OI")
    assert qr.method == "sendPhoto"
    assert code in qr.text
    assert pin.method == "sendVenue"
    pending = await staff.next_message()
    assert code in pending.text
    assert PEOPLE["unrecorded"].nik not in pending.text
    staff.press(pending, data_of(pending, "st:ok:"))
    assert "dikonfirmasi" in (await staff.next_message()).text
    assert "dikonfirmasi" in (await user.next_message()).text
    row = await db_row(settings, "SELECT state, day FROM bookings WHERE code = ?", code)
    assert tuple(row) == ("confirmed", "2026-11-25")


@pytest.mark.parametrize(
    ("service", "bring"), [("rusak", "KTP lama yang rusak"), ("hilang", "kehilangan")]
)
async def test_replacement_services_say_what_to_bring(botapi, service, bring):
    _, confirmation, _, _ = await book(botapi, 7002, "recorded", service)
    assert bring in confirmation.text


async def test_staff_reject_with_reason_the_citizen_reads(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, *_ = await book(botapi, 7003, "turning17")
    pending = await staff.next_message()
    staff.press(pending, data_of(pending, "st:no:"))
    assert "alasan" in (await staff.next_message()).text
    staff.send_text("Blangko KTP <habis> hari itu")
    assert "ditolak" in (await staff.next_message()).text
    told = await user.next_message()
    assert "Blangko KTP <habis> hari itu" in told.text
    assert data_of(told, "menu:antre")


async def test_check_in_and_recorded_reactivates_a_deactivated_nik(botapi, settings, clock):
    from datetime import timedelta

    staff = botapi.user(STAFF_ID)
    user, confirmation, _, _ = await book(botapi, 7004, "deactivated", day="2026-11-25")
    code = confirmation.html.split("<code>")[1].split("</code>")[0]
    pending = await staff.next_message()
    staff.press(pending, data_of(pending, "st:ok:"))
    await staff.next_message()
    await user.next_message()
    assert (await staff.next_message()).method == "editMessageText"  # the notice says so
    clock.advance(timedelta(days=1))  # Wednesday 25 November, 10:00 WIB
    staff.send_text("/hari_ini")
    queue = await staff.next_message()
    assert code in queue.text
    staff.send_text(f"/masuk {code.lower()}")
    checked = await staff.next_message()
    staff.press(checked, data_of(checked, "st:out:recorded:"))
    assert "direkam" in (await staff.next_message()).text
    done = await user.next_message()
    assert "Perekaman e-KTP Ani Lestari sudah selesai" in done.text
    person = PEOPLE["deactivated"]
    row = await db_row(
        settings,
        "SELECT status_nik, tanggal_rekam FROM residents WHERE nik_ref = ?",
        Vault.from_secret(settings.secret_key).ref(person.nik),
    )
    assert tuple(row) == ("AKTIF", "2026-11-25")


async def test_staff_of_another_point_cannot_confirm(botapi, settings):
    from bot.app import prepare_database
    from bot.services.roles import add_user

    conn = await prepare_database(settings)
    await add_user(conn, 9010, "staff", service_point="tla-wlingi", area=None, now=NOW)
    await conn.close()
    staff = botapi.user(STAFF_ID)
    confirmation = (await book(botapi, 7005, "unrecorded"))[1]
    pending = await staff.next_message()
    wlingi = botapi.user(9010)
    wlingi.send_text("/hari_ini")
    own = await wlingi.next_message()  # a message of their own, to forge a button on
    wlingi.press(own, data_of(pending, "st:ok:"), raw=True)
    assert "tempat layanan Anda sendiri" in (await wlingi.next_message()).text
    code = confirmation.html.split("<code>")[1].split("</code>")[0]
    assert tuple(await db_row(settings, "SELECT state FROM bookings WHERE code = ?", code)) == (
        "pending",
    )


async def test_jadwal_cancel_frees_the_place(botapi, settings):
    user, *_ = await book(botapi, 7006, "unrecorded")
    botapi.user(STAFF_ID)
    user.send_text("/jadwal")
    listing = await user.next_message()
    assert "menunggu konfirmasi" in listing.text
    user.press(listing, data_of(listing, "jd:cancel:"))
    ask = await user.next_message()
    user.press(ask, data_of(ask, "jd:drop:"))
    assert "dibatalkan" in (await user.next_message()).text
    refreshed = await user.next_message()  # the /jadwal list, edited
    assert (refreshed.method, refreshed.message_id) == ("editMessageText", listing.message_id)
    assert "dibatalkan" in refreshed.text
    user.press(ask, data_of(ask, "jd:drop:"), raw=True)  # the same button again
    assert "Pilihan ini sudah tidak berlaku" in (await user.next_message()).text
    (active,) = await db_row(settings, "SELECT count(*) FROM bookings WHERE state = 'pending'")
    assert active == 0


async def test_reschedule_keeps_person_and_service(botapi, settings):
    user, *_ = await book(botapi, 7007, "unrecorded", day="2026-11-25")
    user.send_text("/jadwal")
    listing = await user.next_message()
    user.press(listing, data_of(listing, "jd:move:"))
    calendar = await user.next_message()
    user.press(calendar, "bk:day:2026-11-26")
    slots = await user.next_message()
    user.press(slots, data_of(slots, "bk:slot:"))
    summary = await user.next_message()
    assert "Kamis, 26 November 2026" in summary.text
    user.press(summary, "bk:ok")
    moved = await user.next_message()
    assert "sudah diubah" in moved.text
    row = await db_row(settings, "SELECT count(*), max(day) FROM bookings WHERE state = 'pending'")
    assert tuple(row) == (1, "2026-11-26")


async def test_closure_cancels_bookings_and_tells_citizens(botapi, settings):
    botapi.user(STAFF_ID)
    user, _, _, _ = await book(botapi, 7008, "unrecorded", day="2026-11-26")
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/tutup kanigoro 2026-11-26 2026-11-27 gangguan jaringan")
    assert "1 antrean dibatalkan" in (await admin.next_message()).text
    told = await user.next_message()
    assert "gangguan jaringan" in told.text
    assert data_of(told, "menu:antre")
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rekam")
    people = await user.next_message()
    user.press(people, "bk:who:0")
    points = await user.next_message()
    user.press(points, "bk:pt:kanigoro")
    calendar = await user.next_message()
    assert "bk:day:2026-11-26" not in [d for _, d in calendar.buttons]
    assert "bk:day:2026-11-27" not in [d for _, d in calendar.buttons]


async def test_typed_date_and_old_buttons_get_clear_answers(botapi):
    user = botapi.user(7009)
    user.send_text("/antre")
    services = await user.next_message()
    user.send_text("25 November")
    assert "pilih dengan tombol" in (await user.next_message()).text
    user.press(services, "bk:day:2026-11-25", raw=True)
    assert "tidak berlaku" in (await user.next_message()).text


async def test_staff_marks_a_no_show_by_code(botapi, settings, clock):
    from datetime import timedelta

    staff = botapi.user(STAFF_ID)
    user, confirmation, _, _ = await book(botapi, 7010, "unrecorded", day="2026-11-25")
    code = confirmation.html.split("<code>")[1].split("</code>")[0]
    await staff.next_message()  # the pending notice
    staff.send_text(f"/tidak_hadir {code}")
    assert "bukan hari ini" in (await staff.next_message()).text  # not before the day
    clock.advance(timedelta(days=1))
    staff.send_text(f"/tidak_hadir {code}")
    assert "tidak hadir" in (await staff.next_message()).text
    assert "tidak hadir" in (await user.next_message()).text
    assert tuple(await db_row(settings, "SELECT state FROM bookings WHERE code = ?", code)) == (
        "no_show",
    )


async def test_confirming_twice_books_once(botapi, settings):
    person = PEOPLE["unrecorded"]
    user, *_ = await book(botapi, 7011, "unrecorded")
    summary_press = [m for m in user.inbox if "bk:ok" in [d for _, d in m.buttons]][-1]
    assert summary_press.buttons  # the summary as the person saw it, before it was edited
    user.press(summary_press, "bk:ok", raw=True)  # a double tap on the old summary
    assert "tidak berlaku" in (await user.next_message()).text
    (count,) = await db_row(
        settings,
        "SELECT count(*) FROM bookings WHERE nik_ref = ?",
        Vault.from_secret(settings.secret_key).ref(person.nik),
    )
    assert count == 1


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


async def choose_person_for(botapi, user_id: int, who: str, service: str = "rekam"):
    """Verify with /cek, start /antre for the service and pick the person: the answer."""
    person = PEOPLE[who]
    user = botapi.user(user_id)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, f"bk:svc:{service}")
    people = await user.next_message()
    user.press(people, data_of(people, "bk:who:0"))
    return user, await user.next_message()


async def test_a_child_is_told_why_there_is_no_recording_for_them(botapi, settings):
    _, answer = await choose_person_for(botapi, 7020, "child")  # 12 years old
    assert "Perekaman e-KTP baru bisa mulai umur 16 tahun" in answer.text
    assert "baru berumur 12 tahun" in answer.text
    assert "1 Juni 2030" in answer.text
    assert not [data for _, data in answer.buttons if data.startswith("bk:pt:")]
    assert await db_row(settings, "SELECT count(*) FROM bookings") == (0,)


async def test_a_child_is_told_in_english_too(botapi):
    user = botapi.user(7021)
    user.send_text("/bahasa")
    user.press(await user.next_message(), "lang:en")
    await user.next_message()
    _, answer = await choose_person_for(botapi, 7021, "child")
    assert "e-KTP recording starts at age 16" in answer.text
    assert "This person is 12" in answer.text


async def test_a_recorded_person_is_offered_the_replacement_services(botapi):
    user, answer = await choose_person_for(botapi, 7022, "recorded")
    assert "sudah rekam e-KTP (1 Maret 2013)" in answer.text
    assert "/lapor" in answer.text
    assert [data for _, data in answer.buttons] == ["bk:start:rusak", "bk:start:hilang"]
    user.press(answer, "bk:start:rusak")
    people = await user.next_message()
    user.press(people, data_of(people, "bk:who:0"))
    points = await user.next_message()
    assert data_of(points, "bk:pt:kanigoro")


async def test_staff_notice_shows_age_and_recording_status(botapi):
    staff = botapi.user(STAFF_ID)
    await book(botapi, 7023, "unrecorded", day="2026-11-25")
    pending = await staff.next_message()
    assert "Umur 18 tahun · belum rekam e-KTP" in pending.text
    await book(botapi, 7024, "recorded", "rusak", day="2026-11-25")
    pending = await staff.next_message()
    assert "Umur 46 tahun, sudah/pernah menikah · sudah rekam e-KTP (1 Maret 2013)" in pending.text
