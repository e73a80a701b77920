"""End to end: /jadwal says whose each booking is, keeps its numbers, offers the QR code again and
is refreshed after a change made from it; cancelling and moving name what they act on; moving a
recording checks again who may have it (issue 16, "Cancel and reschedule name what they act on").
"""

from __future__ import annotations

import pytest

from bot.crypto import Vault
from bot.engine import open_database
from tests.conftest import PEOPLE
from tests.e2e.test_booking import book, db_row

pytestmark = pytest.mark.usefixtures("running_bot")

RUDI = PEOPLE["unrecorded"]  # Rudi Lestari: "Rudi L."
KANIGORO = "Kantor Dispendukcapil Kabupaten Blitar"


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data and data.startswith(prefix))


def label_of(message, data: str) -> str:
    return next(label for label, d in message.buttons if d == data)


def code_of(message) -> str:
    return message.html.split("<code>")[1].split("</code>")[0]


async def jadwal(user):
    user.send_text("/jadwal")
    return await user.next_message()


async def book_for(user, who: str, service: str, day: str):
    """/cek the person, then /antre for them (chosen by name) on `day`: the confirmation."""
    person = PEOPLE[who]
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, f"bk:svc:{service}")
    people = await user.next_message()
    user.press(people, next(d for label, d in people.buttons if person.nama in label))
    points = await user.next_message()
    user.press(points, "bk:pt:kanigoro")
    calendar = await user.next_message()
    user.press(calendar, f"bk:day:{day}")
    slots = await user.next_message()
    user.press(slots, data_of(slots, "bk:slot:"))
    summary = await user.next_message()
    user.press(summary, "bk:ok")
    confirmation = await user.next_message()
    await user.next_message()  # the QR code
    await user.next_message()  # the map pin
    return confirmation


async def move_to(user, listing, booking_code: str, day: str):
    """From /jadwal, move the booking to the first slot of `day`: the summary asked."""
    number = next(line.split(".")[0] for line in listing.text.splitlines() if booking_code in line)
    move = next(d for label, d in listing.buttons if label.endswith(f"#{number}") and "move" in d)
    user.press(listing, move)
    calendar = await user.next_message()
    user.press(calendar, f"bk:day:{day}")
    slots = await user.next_message()
    user.press(slots, data_of(slots, "bk:slot:"))
    return await user.next_message()


async def test_the_cancel_question_names_code_person_service_time_and_place(botapi):
    user, confirmation, _, _ = await book(botapi, 7501, "unrecorded", day="2026-11-25")
    code = code_of(confirmation)
    time = confirmation.text.split("pukul ")[1].split(" WIB")[0]
    listing = await jadwal(user)
    user.press(listing, data_of(listing, "jd:cancel:"))
    ask = await user.next_message()
    assert ask.text.startswith(
        f"Batalkan antrean {code} untuk Rudi L., Perekaman e-KTP / aktivasi NIK,"
        f" Rabu, 25 November 2026 pukul {time} WIB di {KANIGORO}?"
    )
    user.send_text("/bahasa")
    user.press(await user.next_message(), "lang:en")
    await user.next_message()
    listing = await jadwal(user)
    user.press(listing, data_of(listing, "jd:cancel:"))
    ask = await user.next_message()
    assert ask.text.startswith(
        f"Cancel booking {code} for Rudi L., e-KTP recording / NIK re-activation,"
        f" Wednesday, 25 November 2026 at {time} WIB at {KANIGORO}?"
    )


async def test_moving_asks_to_move_the_named_booking_and_refreshes_the_list(botapi, settings):
    user, confirmation, _, _ = await book(botapi, 7502, "unrecorded", day="2026-11-25")
    code = code_of(confirmation)
    listing = await jadwal(user)
    summary = await move_to(user, listing, code, "2026-11-26")
    assert "Pesan antrean ini?" not in summary.text
    assert f"Pindahkan antrean {code} untuk Rudi L. ke Kamis, 26 November 2026 pukul" in (
        summary.text
    )
    assert "Sekarang: Rabu, 25 November 2026" in summary.text
    assert label_of(summary, "bk:ok") == "✅ Pindahkan"
    user.press(summary, "bk:ok")
    assert "sudah diubah" in (await user.next_message()).text
    await user.next_message()  # the QR code
    await user.next_message()  # the map pin
    refreshed = await user.next_message()
    assert (refreshed.method, refreshed.message_id) == ("editMessageText", listing.message_id)
    assert "Kamis, 26 November 2026" in refreshed.text
    assert "Rabu, 25 November 2026" not in refreshed.text
    assert tuple(await db_row(settings, "SELECT day FROM bookings WHERE code = ?", code)) == (
        "2026-11-26",
    )


async def test_the_list_says_whose_and_keeps_its_numbers(botapi):
    user = botapi.user(7503)
    first = code_of(await book_for(user, "unrecorded", "rekam", "2026-11-25"))
    second = code_of(await book_for(user, "recorded", "rusak", "2026-11-26"))
    listing = await jadwal(user)
    lines = listing.text.splitlines()
    assert any(line.startswith(f"1. {first} — Rudi L., Perekaman e-KTP") for line in lines)
    assert any(line.startswith(f"2. {second} — Budi S., Penggantian KTP rusak") for line in lines)

    summary = await move_to(user, listing, first, "2026-11-27")  # now the later of the two
    user.press(summary, "bk:ok")
    for _ in range(4):  # moved, QR code, map pin, the list refreshed
        refreshed = await user.next_message()
    assert refreshed.message_id == listing.message_id
    lines = refreshed.text.splitlines()
    assert any(line.startswith(f"1. {first} — Rudi L.") for line in lines)
    assert any(line.startswith(f"2. {second} — Budi S.") for line in lines)
    assert label_of(refreshed, data_of(refreshed, "jd:move:")) == "🔁 Ubah #1"

    user.press(refreshed, next(d for label, d in refreshed.buttons if label == "🗑 Batalkan #1"))
    ask = await user.next_message()
    assert first in ask.text
    user.press(ask, data_of(ask, "jd:drop:"))
    await user.next_message()  # cancelled
    after = await user.next_message()
    assert after.message_id == listing.message_id
    assert any(line.startswith(f"2. {second} — Budi S.") for line in after.text.splitlines())
    assert [label for label, _ in after.buttons if label.endswith("#1")] == []


async def test_the_list_offers_the_qr_code_again(botapi):
    user, confirmation, qr, _ = await book(botapi, 7504, "unrecorded", day="2026-11-25")
    listing = await jadwal(user)
    assert label_of(listing, data_of(listing, "jd:qr:")) == "🔳 QR #1"
    user.press(listing, data_of(listing, "jd:qr:"))
    again = await user.next_message()
    assert again.method == "sendPhoto"
    assert code_of(confirmation) in again.text
    assert again.text == qr.text


async def test_moving_a_recording_checks_again_who_may_have_it(botapi, settings):
    """Rudi was recorded elsewhere after booking: his recording visit cannot be moved."""
    user, confirmation, _, _ = await book(botapi, 7505, "unrecorded", day="2026-11-25")
    conn = await open_database(settings)
    await conn.execute(
        "UPDATE residents SET tanggal_rekam = '2026-11-20' WHERE nik_ref = ?",
        (Vault.from_secret(settings.secret_key).ref(RUDI.nik),),
    )
    await conn.close()
    listing = await jadwal(user)
    user.press(listing, data_of(listing, "jd:move:"))
    answer = await user.next_message()
    assert "sudah rekam e-KTP" in answer.text
    assert [d for _, d in answer.buttons if d and d.startswith("bk:day:")] == []
    row = await db_row(settings, "SELECT day FROM bookings WHERE code = ?", code_of(confirmation))
    assert tuple(row) == ("2026-11-25",)
