"""End to end: the waitlist, the morning question, the staff desk's bulk and edge actions,
bad input while booking, and WIB/UTC dates, through the local Bot API server."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest
from telegram.ext import CallbackContext

from bot.config import TIMEZONE as WIB
from bot.crypto import Vault
from bot.db import transaction
from bot.engine import open_database
from bot.errors import SlotFull
from bot.jobs.queue import expire_waitlist_offers
from bot.nik import make_nik
from bot.services import booking as booking_service
from bot.services.booking import book as book_service
from bot.services.directory import note_chat
from bot.services.importer import import_residents
from bot.services.roles import add_user
from bot.services.schedule import free_slots, slot_starts
from bot.storage.bookings import get_booking
from bot.storage.closures import insert_closure
from bot.storage.service_points import get_service_point
from bot.views.bookings import still_coming
from tests.conftest import (
    ADMIN_ID,
    HEADER,
    NOW,
    PEOPLE,
    STAFF_ID,
    Person,
    _person,
    write_population,
)
from tests.e2e.test_booking import book, db_row

SRENGAT = "kec-srengat"  # a kecamatan office: lowered to 1 place per slot below
SRENGAT_STAFF = 9030
FRIDAY = date(2026, 11, 27)  # the only open day at Srengat in the "full" world: 6 slots
FRIDAY_SLOTS = slot_starts(FRIDAY)  # 08.00 ... 10.30 WIB
KK_EXTRA = "3505030303150003"
# More residents of kecamatan Srengat, to fill places and stand in line.
EXTRA = [
    _person(f"Warga Srengat {n}", date(1990, 1, n), "L", kk=KK_EXTRA, serial=100 + n, kec="350503")
    for n in range(1, 11)
]


# --- fixtures and helpers ---


@asynccontextmanager
async def connection(settings) -> AsyncIterator[aiosqlite.Connection]:
    conn = await open_database(settings)
    try:
        yield conn
    finally:
        await conn.close()


async def rows(settings, sql: str, *args: object) -> list[tuple]:
    async with connection(settings) as conn, conn.execute(sql, args) as cur:
        return [tuple(row) for row in await cur.fetchall()]


def ref(settings, nik: str) -> bytes:
    """The NIK's lookup hash in the bot's database (made in Python, as the bot does)."""
    return Vault.from_secret(settings.secret_key).ref(nik)


async def one(settings, sql: str, *args: object) -> tuple:
    (row,) = await rows(settings, sql, *args)
    return row


async def fill(settings, person: Person, start: datetime, *, chat_id: int, now=NOW):
    """Book a place through the service, as another citizen would."""
    async with connection(settings) as conn:
        return await booking_service.book(
            conn,
            chat_id=chat_id,
            nik=person.nik,
            service="rekam",
            point_code=SRENGAT,
            start_at=start,
            now=now,
        )


@pytest.fixture
async def world(settings, population, botapi, tmp_path: Path) -> None:
    """More residents, and the Srengat kecamatan office with 1 place per slot and a staff
    member who has opened the bot (so its bookings wait for them, "pending")."""
    botapi.user(SRENGAT_STAFF)
    async with connection(settings) as conn:
        await add_user(conn, SRENGAT_STAFF, "staff", service_point=SRENGAT, area=None, now=NOW)
        await note_chat(conn, SRENGAT_STAFF, locale="id", now=NOW)
        report = await import_residents(
            conn, write_population(tmp_path / "extra.csv", EXTRA), now=NOW
        )
        assert report.rejected == []
        async with transaction(conn):
            await conn.execute(
                "UPDATE service_points SET slot_capacity = 1 WHERE code = ?", (SRENGAT,)
            )


@pytest.fixture
async def srengat_full(settings, world) -> None:
    """Srengat is open only on Friday 27 November within the window, and every place is taken;
    the 08.00 place is held by chat 7101, the others by chats 8001..8005."""
    async with connection(settings) as conn, transaction(conn):
        for first, last in (
            (date(2026, 11, 24), date(2026, 11, 26)),
            (date(2026, 11, 30), date(2026, 12, 7)),
        ):
            await insert_closure(
                conn,
                service_point=SRENGAT,
                first_day=first,
                last_day=last,
                reason="renovasi",
                created_by=ADMIN_ID,
                now=NOW,
            )
    for n, start in enumerate(FRIDAY_SLOTS):
        await fill(settings, EXTRA[n], start, chat_id=7101 if n == 0 else 8000 + n)


@pytest.fixture
async def bot(world, running_bot):
    """The running Application, started after the test's data is in place."""
    return running_bot


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data and data.startswith(prefix))


def all_data(message, prefix: str = "") -> list[str]:
    return [data for _, data in message.buttons if data and data.startswith(prefix)]


def code_of(message) -> str:
    return message.html.split("<code>")[1].split("</code>")[0]


async def to_points(botapi, user_id: int, person: Person, service: str = "rekam"):
    """Verify with /cek, start /antre, choose the service and the person: the point list."""
    user = botapi.user(user_id)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, f"bk:svc:{service}")
    people = await user.next_message()
    user.press(people, "bk:who:0")
    return user, await user.next_message()


async def to_calendar(botapi, user_id: int, person: Person, point: str = "kanigoro"):
    user, points = await to_points(botapi, user_id, person)
    user.press(points, f"bk:pt:{point}")
    return user, await user.next_message()


async def join_waitlist(botapi, user_id: int, person: Person):
    user, no_days = await to_calendar(botapi, user_id, person, SRENGAT)
    assert "sudah penuh" in no_days.text
    assert all_data(no_days, "bk:day:") == []
    user.press(no_days, "bk:wait")
    since = await user.next_message()
    assert "Mulai tanggal berapa" in since.text
    user.press(since, "bk:wf:2026-11-24")
    until = await user.next_message()
    assert "Sampai tanggal berapa" in until.text
    assert all_data(until, "bk:wt:")[-1] == "bk:wt:2026-12-07"
    user.press(until, "bk:wt:2026-12-07")
    joined = await user.next_message()
    assert "daftar tunggu" in joined.text
    assert "Selasa, 24 November 2026" in joined.text
    assert "Senin, 7 Desember 2026" in joined.text
    return user


async def cancel_by_jadwal(botapi, user_id: int):
    user = botapi.user(user_id)
    user.send_text("/jadwal")
    listing = await user.next_message()
    user.press(listing, data_of(listing, "jd:cancel:"))
    ask = await user.next_message()
    user.press(ask, data_of(ask, "jd:drop:"))
    assert "dibatalkan" in (await user.next_message()).text
    return user


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# --- 1. the waitlist: offer, hold, take ---


async def test_waitlist_offer_hold_and_take(botapi, settings, srengat_full, bot):
    rudi = PEOPLE["unrecorded"]
    waiting = await join_waitlist(botapi, 7102, rudi)
    assert await rows(settings, "SELECT state, first_day, last_day FROM waitlist") == [
        ("waiting", "2026-11-24", "2026-12-07")
    ]
    await waiting.no_message(within=0.2)

    await cancel_by_jadwal(botapi, 7101)  # the 08.00 place on Friday is free again

    offer = await waiting.next_message()
    assert "Ada tempat kosong" in offer.text
    assert "Kantor Kecamatan Srengat" in offer.text
    assert "Jumat, 27 November 2026 pukul 08.00 WIB" in offer.text
    assert "sampai pukul 10.10 WIB" in offer.text
    take = data_of(offer, "wl:take:")
    offer_id = int(take.rsplit(":", 1)[1])
    assert await rows(settings, "SELECT id, state, start_at, expires_at FROM waitlist_offers") == [
        (offer_id, "open", iso(FRIDAY_SLOTS[0]), "2026-11-24T03:10:00+00:00")
    ]
    assert await rows(settings, "SELECT state FROM waitlist") == [("offered",)]

    waiting.press(offer, take)
    confirmation = await waiting.next_message()
    assert "Antrean Anda tercatat" in confirmation.text
    assert (confirmation.message_id, confirmation.buttons) == (
        offer.message_id,
        [],
    )  # its button went
    assert "Jumat, 27 November 2026, pukul 08.00 WIB" in confirmation.text
    assert "Kantor Kecamatan Srengat" in confirmation.text
    code = code_of(confirmation)
    qr = await waiting.next_message()
    assert qr.method == "sendPhoto"
    assert code in qr.text
    pin = await waiting.next_message()
    assert pin.method == "sendVenue"
    assert await rows(
        settings,
        "SELECT code, chat_id, state, day, start_at FROM bookings WHERE nik_ref = ?",
        ref(settings, rudi.nik),
    ) == [(code, 7102, "pending", "2026-11-27", iso(FRIDAY_SLOTS[0]))]
    assert await rows(settings, "SELECT state FROM waitlist_offers") == [("taken",)]
    assert await rows(settings, "SELECT state FROM waitlist") == [("booked",)]

    waiting.press(offer, take, raw=True)  # a second tap (the offer became the booking)
    assert "sudah punya antrean aktif" in (await waiting.next_message()).text
    assert await one(
        settings, "SELECT count(*) FROM bookings WHERE nik_ref = ?", ref(settings, rudi.nik)
    ) == (1,)


# --- 2. the waitlist: the hold runs out, the next in line gets the place ---


async def test_expired_offer_goes_to_the_next_in_line(botapi, settings, srengat_full, bot, clock):
    first = await join_waitlist(botapi, 7201, PEOPLE["unrecorded"])
    second = await join_waitlist(botapi, 7202, PEOPLE["deactivated"])
    await cancel_by_jadwal(botapi, 7101)

    offer = await first.next_message()
    assert "Ada tempat kosong" in offer.text
    await second.no_message(within=0.3)

    # While the place is held, nobody else sees it or can book it.
    _, calendar = await to_calendar(botapi, 7203, EXTRA[7], SRENGAT)
    assert "sudah penuh" in calendar.text
    with pytest.raises(SlotFull):
        await fill(settings, EXTRA[8], FRIDAY_SLOTS[0], chat_id=8009)

    clock.advance(timedelta(minutes=11))
    await expire_waitlist_offers(CallbackContext(bot))

    second_offer = await second.next_message()
    assert "Jumat, 27 November 2026 pukul 08.00 WIB" in second_offer.text
    assert "sampai pukul 10.21 WIB" in second_offer.text
    ended = await first.next_message()  # the offer says it ended and loses its button
    assert (ended.method, ended.message_id, ended.buttons) == (
        "editMessageText",
        offer.message_id,
        [],
    )
    assert "sudah berakhir" in ended.text
    assert "Anda tetap di daftar tunggu" in ended.text
    first.press(offer, data_of(offer, "wl:take:"), raw=True)  # as the old screen showed it
    assert "tawaran tempat ini sudah berakhir" in (await first.next_message()).text
    assert await rows(
        settings,
        "SELECT w.chat_id, w.state, o.state FROM waitlist_offers o"
        " JOIN waitlist w ON w.id = o.waitlist_id ORDER BY o.id",
    ) == [(7201, "waiting", "expired"), (7202, "offered", "open")]

    second.press(second_offer, data_of(second_offer, "wl:take:"))
    assert "Antrean Anda tercatat" in (await second.next_message()).text
    assert await rows(
        settings,
        "SELECT chat_id, day FROM bookings WHERE start_at = ? AND state = 'pending'",
        iso(FRIDAY_SLOTS[0]),
    ) == [(7202, "2026-11-27")]
    assert await one(
        settings,
        "SELECT count(*) FROM bookings WHERE nik_ref = ?",
        ref(settings, PEOPLE["unrecorded"].nik),
    ) == (0,)
    await first.no_message(within=0.2)


# --- 3. the morning question: still coming? ---


async def test_morning_question_keep_then_release(botapi, settings, srengat_full, bot):
    waiting = await join_waitlist(botapi, 7102, PEOPLE["unrecorded"])
    (booking_id,) = await one(settings, "SELECT id FROM bookings WHERE chat_id = 7101")
    holder = botapi.user(7101)
    holder.send_text("/jadwal")
    listing = await holder.next_message()  # a bot message to carry the reminder's buttons

    holder.press(listing, f"bk:coming:{booking_id}", raw=True)
    assert "sampai jumpa" in (await holder.next_message()).text
    assert await one(settings, "SELECT state FROM bookings WHERE id = ?", booking_id) == (
        "pending",
    )
    await waiting.no_message(within=0.3)

    holder.press(listing, f"bk:release:{booking_id}", raw=True)
    released = await holder.next_message()
    assert "dilepas" in released.text
    assert await one(settings, "SELECT state FROM bookings WHERE id = ?", booking_id) == (
        "released",
    )
    offer = await waiting.next_message()
    assert "Ada tempat kosong" in offer.text
    assert data_of(offer, "wl:take:")

    holder.press(listing, f"bk:release:{booking_id}", raw=True)  # the button again
    assert "sudah tidak bisa diubah" in (await holder.next_message()).text
    assert await one(settings, "SELECT state FROM bookings WHERE id = ?", booking_id) == (
        "released",
    )
    holder.press(listing, f"bk:coming:{booking_id}", raw=True)  # "Yes" after releasing
    answer = await holder.next_message()
    assert "sudah tidak bisa diubah" in answer.text
    assert "sampai jumpa" not in answer.text
    (other_id,) = await one(settings, "SELECT id FROM bookings WHERE chat_id = 8001")
    for action in ("coming", "release"):  # another chat's booking: not found, not touched
        holder.press(listing, f"bk:{action}:{other_id}", raw=True)
        assert "tidak ditemukan" in (await holder.next_message()).text
    assert await one(settings, "SELECT state FROM bookings WHERE id = ?", other_id) == ("pending",)
    assert await one(settings, "SELECT count(*) FROM waitlist_offers") == (1,)
    await waiting.no_message(within=0.3)


# --- 4. the staff desk ---


async def test_confirm_all_of_tomorrow_by_command_and_button(botapi, settings, bot):
    staff = botapi.user(STAFF_ID)
    first, *_ = await book(botapi, 7301, "unrecorded", day="2026-11-25")
    second, *_ = await book(botapi, 7302, "turning17", day="2026-11-25")
    later, *_ = await book(botapi, 7303, "deactivated", day="2026-11-26")
    for _ in range(3):
        assert "st:ok:" in data_of(await staff.next_message(), "st:ok:")

    staff.send_text("/konfirmasi_besok")
    assert (
        "2 antrean untuk Rabu, 25 November 2026 dikonfirmasi" in (await staff.next_message()).text
    )
    for citizen in (first, second):
        told = await citizen.next_message()
        assert "dikonfirmasi" in told.text
        assert "Rabu, 25 November 2026" in told.text
    for _ in range(2):  # their notices say so and lose their buttons
        assert (await staff.next_message()).method == "editMessageText"
    await later.no_message(within=0.2)
    assert await rows(settings, "SELECT chat_id, state FROM bookings ORDER BY chat_id") == [
        (7301, "confirmed"),
        (7302, "confirmed"),
        (7303, "pending"),
    ]

    another, *_ = await book(botapi, 7304, "child", "rusak", day="2026-11-25")
    await staff.next_message()
    staff.send_text("/hari_ini")
    today = await staff.next_message()
    staff.press(today, "st:all")
    assert (
        "1 antrean untuk Rabu, 25 November 2026 dikonfirmasi" in (await staff.next_message()).text
    )
    assert "dikonfirmasi" in (await another.next_message()).text
    assert await one(settings, "SELECT state FROM bookings WHERE chat_id = 7304") == ("confirmed",)


async def test_auto_confirm_skips_the_staff(botapi, settings, bot):
    staff = botapi.user(STAFF_ID)
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/autokonfirmasi kanigoro on")
    assert "Konfirmasi otomatis untuk kanigoro: aktif" in (await admin.next_message()).text
    assert await one(
        settings, "SELECT auto_confirm FROM service_points WHERE code = ?", "kanigoro"
    ) == (1,)
    _, confirmation, _, _ = await book(botapi, 7310, "unrecorded")
    assert "Status: dikonfirmasi" in confirmation.text
    await staff.no_message(within=0.3)
    assert await one(settings, "SELECT state FROM bookings WHERE chat_id = 7310") == ("confirmed",)


async def test_citizen_and_staff_cannot_use_admin_commands(botapi, settings, bot):
    citizen = botapi.user(7320)
    for command in ("/autokonfirmasi kanigoro on", "/tutup kanigoro 2026-11-25 2026-11-25 x"):
        citizen.send_text(command)
        assert "hanya untuk petugas yang terdaftar" in (await citizen.next_message()).text
    staff = botapi.user(STAFF_ID)
    staff.send_text("/tutup kanigoro 2026-11-25 2026-11-25 x")
    assert "hanya untuk petugas yang terdaftar" in (await staff.next_message()).text
    citizen.send_text("/konfirmasi_besok")
    assert "hanya untuk petugas yang terdaftar" in (await citizen.next_message()).text
    assert await one(settings, "SELECT count(*) FROM closures") == (0,)
    assert await one(settings, "SELECT max(auto_confirm) FROM service_points") == (0,)


async def test_no_show_outcome_is_recorded_and_told(botapi, settings, bot):
    staff = botapi.user(STAFF_ID)
    citizen, *_ = await book(botapi, 7330, "unrecorded", day="2026-11-24")
    later, *_ = await book(botapi, 7331, "turning17", day="2026-11-25")
    pending = await staff.next_message()
    await staff.next_message()
    (booking_id,) = await one(settings, "SELECT id FROM bookings WHERE chat_id = 7330")
    (later_id,) = await one(settings, "SELECT id FROM bookings WHERE chat_id = 7331")

    staff.press(pending, f"st:out:no_show:{later_id}", raw=True)  # tomorrow's: too early
    assert "bukan hari ini" in (await staff.next_message()).text
    await later.no_message(within=0.2)

    staff.press(pending, f"st:out:no_show:{booking_id}", raw=True)
    done = await staff.next_message()
    assert "tidak hadir" in done.text
    told = await citizen.next_message()
    assert "tercatat tidak hadir" in told.text
    assert await rows(settings, "SELECT chat_id, state FROM bookings ORDER BY chat_id") == [
        (7330, "no_show"),
        (7331, "pending"),
    ]
    assert await rows(
        settings, "SELECT actor_id FROM audit_log WHERE action = 'staffdesk:no_show'"
    ) == [(STAFF_ID,)]


async def test_check_in_refuses_cancelled_and_tomorrows_bookings(botapi, settings, bot):
    staff = botapi.user(STAFF_ID)
    _, today_conf, _, _ = await book(botapi, 7340, "unrecorded", day="2026-11-24")
    _, tomorrow_conf, _, _ = await book(botapi, 7341, "turning17", day="2026-11-25")
    await staff.next_message()
    await staff.next_message()
    await cancel_by_jadwal(botapi, 7340)
    assert (await staff.next_message()).method == "editMessageText"  # the notice says so

    staff.send_text(f"/masuk {code_of(today_conf)}")
    answer = await staff.next_message()
    assert 'sudah berstatus "dibatalkan"' in answer.text
    assert answer.buttons == []
    staff.send_text(f"/masuk {code_of(tomorrow_conf)}")
    answer = await staff.next_message()
    assert "Rabu, 25 November 2026, bukan hari ini" in answer.text
    assert answer.buttons == []
    assert await rows(settings, "SELECT chat_id, state FROM bookings ORDER BY chat_id") == [
        (7340, "cancelled"),
        (7341, "pending"),
    ]


# --- 5. bad input ---


@pytest.mark.parametrize("filled_before", ["slot", "confirm"])
async def test_slot_filled_while_choosing(botapi, settings, bot, filled_before):
    rudi = PEOPLE["unrecorded"]
    eight = slot_starts(date(2026, 11, 25))[0]
    user, calendar = await to_calendar(botapi, 7401, rudi, SRENGAT)
    user.press(calendar, "bk:day:2026-11-25")
    slots = await user.next_message()
    assert all_data(slots, "bk:slot:")[0] == f"bk:slot:{int(eight.timestamp())}"
    if filled_before == "slot":
        await fill(settings, EXTRA[0], eight, chat_id=8101)
        user.press(slots, f"bk:slot:{int(eight.timestamp())}")
    else:
        user.press(slots, f"bk:slot:{int(eight.timestamp())}")
        summary = await user.next_message()
        assert "pukul 08.00 WIB" in summary.text
        await fill(settings, EXTRA[0], eight, chat_id=8101)
        user.press(summary, "bk:ok")
    answer = await user.next_message()
    assert "jam itu baru saja penuh" in answer.text
    assert "Jam kosong berikutnya: Rabu, 25 November 2026 08.30" in answer.text
    again = await user.next_message()
    assert "bk:day:2026-11-25" in all_data(again, "bk:day:")  # choose again from the calendar
    assert await one(
        settings, "SELECT count(*) FROM bookings WHERE nik_ref = ?", ref(settings, rudi.nik)
    ) == (0,)
    assert await rows(settings, "SELECT chat_id FROM bookings") == [(8101,)]


async def test_point_closed_after_the_calendar_was_shown(botapi, settings, bot):
    rudi = PEOPLE["unrecorded"]
    admin = botapi.user(ADMIN_ID)
    user, calendar = await to_calendar(botapi, 7402, rudi)

    admin.send_text("/tutup kanigoro 2026-11-25 2026-11-25 gangguan jaringan")
    assert "0 antrean dibatalkan" in (await admin.next_message()).text

    user.press(calendar, "bk:day:2026-11-25")  # the day, from the calendar shown before
    answer = await user.next_message()
    assert "tutup pada hari tersebut" in answer.text
    assert "penuh" not in answer.text
    again = await user.next_message()
    assert "bk:day:2026-11-25" not in all_data(again)
    assert "bk:day:2026-11-27" in all_data(again)

    user.press(again, "bk:day:2026-11-26")
    slots = await user.next_message()
    admin.send_text("/tutup kanigoro 2026-11-26 2026-11-26 gangguan jaringan")
    assert "0 antrean dibatalkan" in (await admin.next_message()).text
    user.press(slots, data_of(slots, "bk:slot:"))  # a slot, from the list shown before
    assert "tutup pada hari tersebut" in (await user.next_message()).text
    again = await user.next_message()
    assert "bk:day:2026-11-26" not in all_data(again)

    user.press(again, "bk:day:2026-11-27")  # up to the summary, then the day closes too
    friday = await user.next_message()
    user.press(friday, data_of(friday, "bk:slot:"))
    summary = await user.next_message()
    admin.send_text("/tutup kanigoro 2026-11-27 2026-11-27 gangguan jaringan")
    await admin.next_message()
    user.press(summary, "bk:ok")
    assert "tutup pada hari tersebut" in (await user.next_message()).text
    assert await one(settings, "SELECT count(*) FROM bookings") == (0,)


async def test_week_old_buttons(botapi, settings, bot, clock):
    user, confirmation, _, _ = await book(botapi, 7403, "unrecorded", day="2026-11-25")
    staff = botapi.user(STAFF_ID)
    await staff.next_message()
    user.send_text("/jadwal")
    listing = await user.next_message()
    user.press(listing, data_of(listing, "jd:cancel:"))
    ask = await user.next_message()  # "really cancel?", left unanswered
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rusak")
    people = await user.next_message()
    user.press(people, "bk:who:0")
    points = await user.next_message()
    user.press(points, "bk:pt:kanigoro")
    calendar = await user.next_message()
    user.press(calendar, "bk:day:2026-11-26")
    slots = await user.next_message()  # left unanswered too

    # Tuesday 1 December: the flow timed out a week ago (its expiry is in the database, so the
    # moved clock counts; PTB's timeout job, on the real clock, never fired in this test)
    clock.advance(timedelta(days=7))
    user.press(slots, data_of(slots, "bk:slot:"))
    closed = await user.next_message()  # the timed-out step loses its buttons, then the press
    assert (closed.method, closed.message_id, closed.buttons) == (
        "editMessageReplyMarkup",
        slots.message_id,
        [],
    )
    assert "tidak berlaku" in (await user.next_message()).text
    user.press(calendar, "bk:day:2026-11-26", raw=True)  # the old calendar, as last seen
    assert "tidak berlaku" in (await user.next_message()).text
    user.press(ask, data_of(ask, "jd:drop:"))
    assert "sudah tidak bisa diubah" in (await user.next_message()).text
    assert await rows(settings, "SELECT code, state FROM bookings") == [
        (code_of(confirmation), "pending")
    ]


async def test_pick_up_is_booked_only_where_cards_are_printed(botapi, settings, bot):
    user, points = await to_points(botapi, 7404, PEOPLE["recorded"], "ambil")
    offered = all_data(points, "bk:pt:")
    assert "bk:pt:kanigoro" in offered
    assert "bk:pt:tla-srengat" in offered
    assert not [p for p in offered if p.startswith("bk:pt:kec-")]
    async with connection(settings) as conn:
        for data in offered:
            point = await get_service_point(conn, data.removeprefix("bk:pt:"))
            assert point is not None
            assert point.prints_cards

    user.press(points, "bk:pt:kanigoro")
    calendar = await user.next_message()
    user.press(calendar, "bk:day:2026-11-25")
    slots = await user.next_message()
    user.press(slots, data_of(slots, "bk:slot:"))
    summary = await user.next_message()
    assert "Pengambilan KTP" in summary.text
    user.press(summary, "bk:ok")
    confirmation = await user.next_message()
    assert "Antrean Anda tercatat" in confirmation.text
    assert "tanda bukti perekaman" in confirmation.text
    assert (await user.next_message()).method == "sendPhoto"
    assert (await user.next_message()).method == "sendVenue"
    assert await rows(settings, "SELECT service, service_point, day FROM bookings") == [
        ("ambil", "kanigoro", "2026-11-25")
    ]


# --- 6. WIB and UTC ---


@pytest.mark.parametrize(
    ("hour", "minute", "last_day", "first_slot"),
    [
        pytest.param(23, 30, "2026-12-07", "08.00", id="Tue 23.30 WIB"),
        pytest.param(0, 30, "2026-12-08", "08.00", id="Wed 00.30 WIB, UTC still Tue"),
        pytest.param(6, 59, "2026-12-08", "08.00", id="Wed 06.59 WIB, UTC Tue 23.59"),
        pytest.param(7, 0, "2026-12-08", "08.00", id="Wed 07.00 WIB, UTC Wed 00.00"),
        pytest.param(7, 1, "2026-12-08", "08.30", id="Wed 07.01 WIB, 08.00 under 1 hour"),
    ],
)
async def test_dates_are_wib_dates(
    botapi, settings, bot, clock, hour, minute, last_day, first_slot
):
    wib = datetime(2026, 11, 24 if hour == 23 else 25, hour, minute, tzinfo=WIB)
    clock.at = wib.astimezone(UTC)
    user, calendar = await to_calendar(botapi, 7501, PEOPLE["unrecorded"])
    days = all_data(calendar, "bk:day:")
    assert days[0] == "bk:day:2026-11-25"
    assert days[-1] == f"bk:day:{last_day}"
    assert calendar.buttons[0][0].startswith("Rab 25/11")
    user.press(calendar, days[0])
    slots = await user.next_message()
    assert "Rabu, 25 November 2026" in slots.text
    assert slots.buttons[0][0].startswith(first_slot)
    user.press(slots, slots.buttons[0][1])
    summary = await user.next_message()
    assert f"Rabu, 25 November 2026, pukul {first_slot} WIB" in summary.text
    user.press(summary, "bk:ok")
    confirmation = await user.next_message()
    assert f"Rabu, 25 November 2026, pukul {first_slot} WIB" in confirmation.text
    slot_hour, slot_minute = map(int, first_slot.split("."))
    start = datetime(2026, 11, 25, slot_hour, slot_minute, tzinfo=WIB).astimezone(UTC)
    assert await rows(settings, "SELECT day, start_at FROM bookings") == [
        ("2026-11-25", start.isoformat())
    ]
    staff = botapi.user(STAFF_ID)
    await staff.next_message()  # the pending booking
    if wib.day == 25:  # on the visit's day in WIB, the staff's "today" is that day
        staff.send_text("/hari_ini")
        today = await staff.next_message()
        assert "Rabu, 25 November 2026" in today.text
        assert code_of(confirmation) in today.text


async def test_a_full_day_queue_is_split_for_staff(running_bot, botapi, settings, tmp_path):
    conn = await open_database(settings)
    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER.split(","))
        niks = [make_nik("350510", date(1990, 1, 1 + n % 28), "L", 100 + n) for n in range(70)]
        for n, nik in enumerate(niks):
            row = [nik, "3505100101900099", f"Warga {n}", date(1990, 1, 1 + n % 28).isoformat()]
            writer.writerow([*row, "L", "KAWIN", "35.05.10.2001", "", "AKTIF"])
    await import_residents(conn, path, now=NOW)
    point = await get_service_point(conn, "kanigoro")
    slots = await free_slots(conn, point, NOW.date(), now=NOW)
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
    conn = await open_database(settings)
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
