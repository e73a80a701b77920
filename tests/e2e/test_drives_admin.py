"""End to end: an admin plans a mobile recording drive with /keliling, step by step (each bad
answer answered and asked again, nothing written before the confirmation); anyone else is
refused; a change of day and a cancellation tell everyone booked, with a button to book again.

Today is Tuesday 24 November 2026, 10:00 WIB (tests/conftest.py)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.engine import open_database
from bot.services import drives, staff_notices
from bot.services.opening_hours import parse_hours
from bot.services.schedule import slot_starts
from tests.conftest import ADMIN_ID, NOW, PEOPLE, STAFF_ID
from tests.e2e.test_booking import data_of, db_row

pytestmark = pytest.mark.usefixtures("running_bot")

SRENGAT = "35.05.03"  # the kecamatan of Rudi and Ani (tests/conftest.py)


async def answer(user, text: str):
    user.send_text(text)
    return await user.next_message()


async def drive_count(settings) -> int:
    (count,) = await db_row(settings, "SELECT count(*) FROM drives")
    return count


async def test_an_admin_plans_a_drive_step_by_step(botapi, settings):
    admin = botapi.user(ADMIN_ID)
    listing = await answer(admin, "/keliling")
    assert "Belum ada perekaman keliling" in listing.text
    admin.press(listing, "kl:new")
    assert "Apa namanya" in (await admin.next_message()).text
    assert "paling panjang 80" in (await answer(admin, "x" * 81)).text  # asked again
    assert "Di mana tempatnya" in (await answer(admin, "Perekaman keliling SMAN 1 Talun")).text
    assert "Tanggal berapa" in (await answer(admin, "Aula SMAN 1 Talun, Jl. Raya <Talun> 1")).text
    for typed, said in [
        ("besok pagi", "tidak terbaca"),
        ("23-11-2026", "sudah lewat"),
        ("24-11-2026", "sudah lewat"),  # today: a drive is planned ahead
        ("25-12-2026", "libur"),
        ("31-02-2027", "tidak ada di kalender"),
    ]:
        assert said in (await answer(admin, typed)).text, typed
    assert "Jam berapa" in (await answer(admin, "2 Desember 2026")).text
    assert "JJ:MM-JJ:MM" in (await answer(admin, "14:00-08:00")).text
    assert "Berapa orang" in (await answer(admin, "08:00-12:00")).text
    for typed in ("0", "sepuluh", "-3", "100000"):
        assert "Kuota per 30 menit" in (await answer(admin, typed)).text, typed
    assert "Wilayah mana" in (await answer(admin, "10")).text
    for typed in ("35.06.01", "35.05.99.9999", "Talun"):  # Kediri; no such desa; a name
        assert "bukan kode desa/kelurahan atau kecamatan" in (await answer(admin, typed)).text, (
            typed
        )
    point_step = await answer(admin, "35.05.14.2001")
    assert "kec-talun" in point_step.text  # the kecamatan's own office is suggested
    assert "tidak dikenal" in (await answer(admin, "atlantis")).text
    assert "Kirim lokasi" in (await answer(admin, "kec-talun")).text
    assert "Lewati" in (await answer(admin, "di depan sekolah")).text  # asked again
    assert await drive_count(settings) == 0  # nothing written yet
    admin.send_location(-8.0951, 112.3115)
    summary = await admin.next_message()
    assert "Rabu, 2 Desember 2026, 08.00–12.00 WIB" in summary.text
    assert "Aula SMAN 1 Talun, Jl. Raya <Talun> 1" in summary.text
    assert "80 tempat sehari" in summary.text
    assert await drive_count(settings) == 0
    admin.press(summary, "kl:ok")
    created = await admin.next_message()
    code = created.html.split("<code>")[1].split("</code>")[0]
    username = botapi.sim.bot_user["username"]
    assert f"https://t.me/{username}?start=drv_{code}" in created.text
    row = await db_row(
        settings,
        "SELECT sp.open_day, sp.hours, sp.slot_capacity, d.area_code, d.run_by, sp.pinned"
        " FROM drives d JOIN service_points sp ON sp.code = d.point_code WHERE d.code = ?",
        code,
    )
    assert tuple(row) == ("2026-12-02", "wed 08:00-12:00", 10, "3505142001", "kec-talun", 1)
    assert code in (await answer(admin, "/keliling")).text


async def test_batal_leaves_nothing_behind(botapi, settings):
    admin = botapi.user(ADMIN_ID)
    admin.press(await answer(admin, "/keliling"), "kl:new")
    await admin.next_message()
    await answer(admin, "Perekaman keliling Balai Desa")
    assert "dibatalkan" in (await answer(admin, "/batal")).text
    assert await drive_count(settings) == 0


async def test_keliling_in_a_group_asks_for_a_private_chat(botapi, settings):
    group = botapi.group(-100950, title="Kepala Bidang")
    botapi.user(ADMIN_ID).send_text("/keliling", chat=group)
    said = (await group.next_message()).text
    assert "(/keliling) hanya bisa dipakai di chat pribadi" in said
    assert "/siaran" not in said


@pytest.mark.parametrize("who", [7201, STAFF_ID])
async def test_only_admins_plan_drives(botapi, settings, who):
    user = botapi.user(who)
    refused = await answer(user, "/keliling")
    assert "hanya untuk petugas" in refused.text
    user.press(refused, "kl:new", raw=True)  # a forged button
    assert "hanya untuk petugas" in (await user.next_message()).text
    assert await drive_count(settings) == 0


# --- a change of day and a cancellation, with two residents booked ---


async def planned_drive(
    settings, day: date, *, staff_notice: bool = False
) -> tuple[drives.Drive, list[tuple[int, str]]]:
    """A drive in Srengat on `day`, with Rudi and Ani booked at it (each from their own chat):
    the drive and the (chat, booking code) pairs. `staff_notice`: a notice of Rudi's booking
    is planned to the staff chat, as for a new booking."""
    conn = await open_database(settings)
    try:
        drive = await drives.create_drive(
            conn,
            admin=None,
            name="Perekaman keliling Balai Desa Srengat",
            place="Balai Desa Srengat",
            day=day,
            hours="08:00-10:00",
            capacity=5,
            area=SRENGAT,
            service_point="kec-srengat",
            now=NOW,
        )
        starts = slot_starts(day, hours=parse_hours("mon-sun 08:00-10:00"))
        booked = []
        for chat, who in ((7301, "unrecorded"), (7302, "deactivated")):
            made = await drives.book_at_drive(
                conn, drive.code, chat_id=chat, nik=PEOPLE[who].nik, start_at=starts[0], now=NOW
            )
            booked.append((chat, made.code))
            if staff_notice and who == "unrecorded":
                text = f"🆕 Antrean baru <code>{made.code}</code>"
                await staff_notices.plan_notices(conn, made, [(STAFF_ID, text, None)], now=NOW)
    finally:
        await conn.close()
    return drive, booked


async def states(settings, codes) -> list[str]:
    found = []
    for code in codes:
        (state,) = await db_row(settings, "SELECT state FROM bookings WHERE code = ?", code)
        found.append(state)
    return found


async def test_a_change_of_day_tells_everyone_booked(botapi, settings):
    drive, booked = await planned_drive(settings, date(2026, 11, 26))
    citizens = [botapi.user(chat) for chat, _ in booked]
    admin = botapi.user(ADMIN_ID)
    listing = await answer(admin, "/keliling")
    assert "terisi 2" in listing.text
    admin.press(listing, f"kl:chg:{drive.code}")
    menu = await admin.next_message()
    assert "2 warga sudah antre" in menu.text
    admin.press(menu, "kl:f:day")
    assert "Tanggal berapa" in (await admin.next_message()).text
    assert "libur" in (await answer(admin, "25-12-2026")).text
    assert "sudah lewat" in (await answer(admin, "20-11-2026")).text
    confirm = await answer(admin, "27-11-2026")
    assert "Jumat, 27 November 2026" in confirm.text
    assert "2 antrean warga akan dibatalkan" in confirm.text
    assert await states(settings, [c for _, c in booked]) == ["confirmed", "confirmed"]
    admin.press(confirm, "kl:save")
    assert "sekarang Jumat, 27 November 2026" in (await admin.next_message()).text
    for citizen, (_, code) in zip(citizens, booked, strict=True):
        told = await citizen.next_message()
        assert code in told.text
        assert "dipindah dari Kamis, 26 November 2026 ke Jumat, 27 November 2026" in told.text
        assert data_of(told, "menu:antre")
    assert await states(settings, [c for _, c in booked]) == ["cancelled", "cancelled"]
    (day,) = await db_row(
        settings, "SELECT open_day FROM service_points WHERE code = ?", drive.point_code
    )
    assert day == "2026-11-27"


async def test_a_cancellation_releases_the_places_and_tells_everyone_booked(botapi, settings):
    staff = botapi.user(STAFF_ID)
    drive, booked = await planned_drive(settings, date(2026, 11, 30), staff_notice=True)
    notice = await staff.next_message()
    assert booked[0][1] in notice.text
    citizens = [botapi.user(chat) for chat, _ in booked]
    admin = botapi.user(ADMIN_ID)
    listing = await answer(admin, "/keliling")
    admin.press(listing, f"kl:del:{drive.code}")
    sure = await admin.next_message()
    assert "2 warga yang sudah antre diberi tahu" in sure.text
    admin.press(sure, "kl:drop")
    assert "dibatalkan" in (await admin.next_message()).text
    for citizen, (_, code) in zip(citizens, booked, strict=True):
        told = await citizen.next_message()
        assert code in told.text
        assert "Senin, 30 November 2026" in told.text
        assert "dibatalkan" in told.text
        assert data_of(told, "menu:antre")
    assert await states(settings, [c for _, c in booked]) == ["cancelled", "cancelled"]
    edited = await staff.next_message()  # the staff notice says what became of the booking
    assert (edited.method, edited.message_id) == ("editMessageText", notice.message_id)
    assert f"Antrean {booked[0][1]}: dibatalkan" in edited.text
    row = await db_row(
        settings,
        "SELECT d.state, sp.active FROM drives d JOIN service_points sp"
        " ON sp.code = d.point_code WHERE d.code = ?",
        drive.code,
    )
    assert tuple(row) == ("cancelled", 0)
    admin.press(listing, f"kl:del:{drive.code}", raw=True)  # the same button again
    assert "sudah dibatalkan" in (await admin.next_message()).text
    assert drive.code not in (await answer(admin, "/keliling")).text


async def test_a_long_list_shows_the_first_drives_and_opens_any_by_its_code(botapi, settings):
    long_name = "Perekaman keliling " + "Sekolah Menengah " * 3  # 80 characters at most
    conn = await open_database(settings)
    try:
        planned = [
            await drives.create_drive(
                conn,
                admin=None,
                name=long_name[:80],
                place="Aula sekolah, Jl. Raya " + "Srengat " * 20,
                day=date(2026, 12, 1 + n),
                hours="08:00-10:00",
                capacity=5,
                area=SRENGAT,
                service_point="kec-srengat",
                now=NOW,
            )
            for n in range(12)
        ]
    finally:
        await conn.close()
    admin = botapi.user(ADMIN_ID)
    listing = await answer(admin, "/keliling")  # one message, within Telegram's 4096
    assert all(d.code in listing.text for d in planned[:8])
    assert not any(d.code in listing.text for d in planned[8:])
    assert "dan 4 lagi" in listing.text
    one = await answer(admin, f"/keliling {planned[11].code.lower()}")
    assert planned[11].code in one.text
    assert data_of(one, f"kl:chg:{planned[11].code}")
    assert "Tidak ada perekaman keliling" in (await answer(admin, "/keliling ZZZZZZ")).text
    long_code = await answer(admin, "/keliling " + "é" * 4000)  # not echoed whole: 4096 at most
    assert "Tidak ada perekaman keliling dengan kode " + "é" * 12 + "." in long_code.text
