"""End to end: damaged and lost cards — report, every state, notifications, destruction register."""

from __future__ import annotations

from datetime import date

import pytest
from telegram.ext import CallbackContext

from bot.engine import open_database
from bot.jobs import run_slot
from bot.jobs.registry import job_spec, scheduled_at
from tests.conftest import ADMIN_ID, PEOPLE, STAFF_ID
from tests.e2e.test_booking import data_of

pytestmark = pytest.mark.usefixtures("running_bot")


async def report(botapi, user_id, who, cause, *, attach="photo", description=None):
    """Verify with /cek, then walk /lapor to the filed message; return (user, filed)."""
    person = PEOPLE[who]
    user = botapi.user(user_id)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/lapor")
    causes = await user.next_message()
    user.press(causes, f"tk:cause:{cause}")
    if description is not None:
        await user.next_message()
        user.send_text(description)
    people = await user.next_message()
    user.press(people, "tk:who:0")
    ask = await user.next_message()
    if attach == "photo":
        user.send_photo()
    elif attach == "pdf":
        user.send_document("laporan-polisi.pdf", "application/pdf", 200_000)
    else:
        user.press(ask, "tk:skip")
    if attach != "skip" and ask.buttons:  # a file sent: the skip button is taken away
        assert (await user.next_message()).method == "editMessageReplyMarkup"
    points = await user.next_message()
    user.press(points, "tk:pt:kanigoro")
    summary = await user.next_message()
    user.press(summary, "tk:ok")
    return user, await user.next_message()


def ticket_number(message) -> str:
    return message.html.split("<code>")[1].split("</code>")[0]


async def rows(settings, sql, *args):
    conn = await open_database(settings)
    async with conn.execute(sql, args) as cur:
        found = [tuple(r) for r in await cur.fetchall()]
    await conn.close()
    return found


async def staff_step(staff, message, prefix):
    staff.press(message, data_of(message, prefix))
    return await staff.next_message()


@pytest.mark.engines("sqlite", "postgresql")
async def test_damaged_card_through_every_state_into_the_register(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, filed = await report(botapi, 7301, "recorded", "peeling")
    number = ticket_number(filed)
    assert number.startswith("KR-")
    assert "bawa KTP lama yang rusak" in filed.text
    assert data_of(filed, "bk:start:rusak")
    new = await staff.next_message()
    assert number in new.text
    assert PEOPLE["recorded"].nik not in new.text
    staff.press(new, data_of(new, "tks:f:"))
    photo = await staff.next_message()
    assert photo.method == "sendPhoto"  # the citizen's photo, opened through the bot
    told = []
    current = new
    for prefix, citizen_sees in (
        ("tks:v:", "diverifikasi"),
        ("tks:p:", "dicetak"),
        ("tks:r:", "siap diambil"),
        ("tks:h:", "diserahkan"),
    ):
        current = await staff_step(staff, current, prefix)
        message = await user.next_message()
        assert citizen_sees in message.text
        told.append(message.text)
    assert "KTP lama yang rusak" in told[2]
    assert [r[0] for r in await rows(settings, "SELECT state FROM tickets")] == ["handed_over"]
    assert len(await rows(settings, "SELECT * FROM received_cards WHERE batch_id IS NULL")) == 1
    user.send_text("/laporan")
    history = await user.next_message()
    for state in ("dilaporkan", "diverifikasi", "dicetak", "siap diambil", "diserahkan"):
        assert state in history.text

    admin = botapi.user(ADMIN_ID)
    admin.send_text("/daftar_musnah")
    assert "Menunggu dimusnahkan: <b>1</b>" in (await admin.next_message()).html
    admin.send_text("/musnah 2026-11-24 | dibakar | Budi, Sari")
    assert "1 KTP" in (await admin.next_message()).text
    admin.send_text(f"/musnah 2026-11-24 | dibakar | Budi | {number}")  # named again
    assert "tidak sedang menunggu" in (await admin.next_message()).text
    admin.send_text("/daftar_musnah")
    register = await admin.next_message()
    assert "Menunggu dimusnahkan: <b>0</b>" in register.html
    assert "Tahun 2026: 1 KTP" in register.text
    assert len(await rows(settings, "SELECT * FROM destruction_batches")) == 1


async def test_forbidden_transitions_change_nothing(botapi, settings):
    staff = botapi.user(STAFF_ID)
    await report(botapi, 7302, "mother", "chip")
    new = await staff.next_message()
    ticket_id = data_of(new, "tks:v:").rsplit(":", 1)[1]
    staff.press(new, f"tks:h:{ticket_id}", raw=True)  # jump to handed over
    assert "tidak bisa dilakukan" in (await staff.next_message()).text
    verified = await staff_step(staff, new, "tks:v:")
    assert "diverifikasi" in verified.text
    staff.press(new, f"tks:v:{ticket_id}")  # verify twice, from the old message
    assert "tidak bisa dilakukan" in (await staff.next_message()).text
    assert [r[0] for r in await rows(settings, "SELECT state FROM tickets")] == ["verified"]


async def test_rejected_with_a_reason_the_citizen_reads(botapi):
    staff = botapi.user(STAFF_ID)
    user, _ = await report(
        botapi, 7303, "recorded", "other", attach="skip", description="retak di tengah"
    )
    new = await staff.next_message()
    staff.press(new, data_of(new, "tks:x:"))
    await staff.next_message()
    staff.send_text("Foto tidak jelas, mohon lapor ulang")
    await staff.next_message()
    told = await user.next_message()
    assert "ditolak" in told.text
    assert "Foto tidak jelas" in told.text


async def test_lost_card_needs_the_police_report(botapi, settings):
    person = PEOPLE["mother"]
    user = botapi.user(7304)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/lapor")
    causes = await user.next_message()
    user.press(causes, "tk:cause:lost")
    people = await user.next_message()
    user.press(people, "tk:who:0")
    ask = await user.next_message()
    assert "surat keterangan kehilangan" in ask.text
    assert ask.buttons == []  # no skip button for a lost card
    user.press(ask, "tk:skip", raw=True)  # a button the step does not offer
    assert "tidak berlaku" in (await user.next_message()).text
    user.send_text("nanti saja")
    assert "foto atau PDF" in (await user.next_message()).text
    user.send_document("video.mp4", "video/mp4", 30 * 1024 * 1024)
    assert "Hanya foto" in (await user.next_message()).text
    user.send_document("laporan.pdf", "application/pdf", 11 * 1024 * 1024)
    assert "terlalu besar" in (await user.next_message()).text
    assert await rows(settings, "SELECT * FROM tickets") == []
    user.send_document("laporan.pdf", "application/pdf", 300_000)
    points = await user.next_message()
    user.press(points, "tk:pt:kanigoro")
    summary = await user.next_message()
    user.press(summary, "tk:ok")
    filed = await user.next_message()
    assert ticket_number(filed).startswith("KH-")
    staff = botapi.user(STAFF_ID)
    new = await staff.next_message()
    staff.press(new, data_of(new, "tks:f:"))
    document = await staff.next_message()
    assert document.method == "sendDocument"


async def test_another_persons_ticket_number_is_not_found(botapi):
    _, filed = await report(botapi, 7305, "recorded", "printing")
    stranger = botapi.user(7306)
    stranger.send_text(f"/laporan {ticket_number(filed)}")
    assert "tidak ditemukan" in (await stranger.next_message()).text


async def test_only_staff_of_the_point_act_on_tickets(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, _ = await report(botapi, 7307, "recorded", "peeling")
    new = await staff.next_message()
    user.press(user.inbox[-1], data_of(new, "tks:v:"), raw=True)  # a forged staff button
    assert "hanya untuk petugas" in (await user.next_message()).text
    assert [r[0] for r in await rows(settings, "SELECT state FROM tickets")] == ["reported"]


async def test_replacement_visit_button_starts_booking_with_the_service(botapi):
    user, filed = await report(botapi, 7308, "recorded", "peeling")
    user.press(filed, "bk:start:rusak")
    people = await user.next_message()
    assert "Untuk siapa kunjungan ini" in people.text


async def test_reject_after_verify_allowed_but_not_after_printing(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, _ = await report(botapi, 7309, "mother", "printing")
    new = await staff.next_message()
    ticket_id = data_of(new, "tks:v:").rsplit(":", 1)[1]
    verified = await staff_step(staff, new, "tks:v:")
    await user.next_message()
    printed = await staff_step(staff, verified, "tks:p:")
    await user.next_message()
    assert all(not d.startswith("tks:x:") for _, d in printed.buttons)  # no Reject any more
    staff.press(printed, f"tks:x:{ticket_id}", raw=True)  # reject after printing
    await staff.next_message()  # asks for the reason
    staff.send_text("terlambat")
    assert "tidak bisa dilakukan" in (await staff.next_message()).text
    staff.press(printed, f"tks:v:{ticket_id}", raw=True)  # backwards
    assert "tidak bisa dilakukan" in (await staff.next_message()).text
    assert [r[0] for r in await rows(settings, "SELECT state FROM tickets")] == ["printed"]
    await user.no_message(within=0.3)  # the citizen is told nothing about refused steps


async def test_reject_from_verified_and_statistics(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, _ = await report(botapi, 7310, "recorded", "chip")
    new = await staff.next_message()
    verified = await staff_step(staff, new, "tks:v:")
    await user.next_message()
    staff.press(verified, data_of(verified, "tks:x:"))
    await staff.next_message()
    staff.send_text("Data KTP tidak sesuai")
    await staff.next_message()
    assert "Data KTP tidak sesuai" in (await user.next_message()).text
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/statistik")
    stats = await admin.next_message()
    assert "KTP rusak: chip atau data tidak terbaca: 1" in stats.text
    assert "Kanigoro 1" in stats.text


async def test_an_old_cause_button_is_no_longer_valid(botapi, settings):
    person = PEOPLE["recorded"]
    user = botapi.user(7311)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    user.send_text("/lapor")
    causes = await user.next_message()
    user.press(causes, "tk:cause:peeling")
    people = await user.next_message()
    assert people.message_id == causes.message_id  # the step's message became the next step
    user.press(people, "tk:who:0")
    await user.next_message()
    user.send_photo()
    assert (await user.next_message()).method == "editMessageReplyMarkup"  # no skip any more
    points = await user.next_message()
    user.press(causes, "tk:cause:lost", raw=True)  # the first step's button, as once seen
    assert "tidak berlaku" in (await user.next_message()).text
    user.press(points, "tk:pt:kanigoro")  # the live step still works
    assert "Periksa kembali" in (await user.next_message()).text
    assert await rows(settings, "SELECT * FROM tickets") == []


async def test_lapor_while_a_booking_is_half_done(botapi):
    user = botapi.user(7312)
    user.send_text("/antre")
    services = await user.next_message()
    user.send_text("/lapor")
    closed = await user.next_message()  # the booking's step loses its buttons
    assert (closed.message_id, closed.buttons) == (services.message_id, [])
    causes = await user.next_message()
    user.press(causes, "tk:cause:other")
    await user.next_message()
    user.send_text("retak di tengah")  # not swallowed by the unfinished booking
    assert "KTP milik siapa" in (await user.next_message()).text


async def test_too_long_reason_can_be_typed_again(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, _ = await report(botapi, 7313, "recorded", "peeling")
    new = await staff.next_message()
    staff.press(new, data_of(new, "tks:x:"))
    await staff.next_message()
    staff.send_text("x" * 300)
    assert "paling panjang 200" in (await staff.next_message()).text
    staff.send_text("Foto buram")
    await staff.next_message()
    assert "Foto buram" in (await user.next_message()).text


async def test_destruction_date_written_the_indonesian_way_and_laporan_with_spaces(botapi):
    staff = botapi.user(STAFF_ID)
    user, filed = await report(botapi, 7314, "recorded", "peeling")
    number = ticket_number(filed)
    current = await staff.next_message()
    for prefix in ("tks:v:", "tks:p:", "tks:r:", "tks:h:"):
        current = await staff_step(staff, current, prefix)
        await user.next_message()
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/musnah 24-11-2026 | dibakar | Budi")
    assert "1 KTP" in (await admin.next_message()).text
    user.send_text(f"/laporan {number[:5]} {number[5:]}")
    assert "diserahkan" in (await user.next_message()).text


async def test_person_verified_in_lapor_is_offered_when_booking(botapi):
    person = PEOPLE["mother"]
    user = botapi.user(7315)
    user.send_text("/lapor")
    causes = await user.next_message()
    user.press(causes, "tk:cause:chip")
    people = await user.next_message()
    user.press(people, "tk:who:new")
    await user.next_message()
    user.send_text(person.nik)
    await user.next_message()
    user.send_text(person.kk)
    ask = await user.next_message()
    user.press(ask, "tk:skip")
    points = await user.next_message()
    user.press(points, "tk:pt:kanigoro")
    summary = await user.next_message()
    user.press(summary, "tk:ok")
    filed = await user.next_message()
    user.press(filed, "bk:start:rusak")
    offered = await user.next_message()
    assert person.nama in " ".join(text for text, _ in offered.buttons)


async def test_tiket_is_refused_in_a_group(botapi):
    staff = botapi.user(STAFF_ID)
    group = botapi.group(-100990, title="Grup Desa")
    staff.send_text("/tiket", chat=group)
    await group.no_message(within=0.3)


async def test_lost_card_lifecycle_leaves_nothing_for_destruction(botapi, settings):
    staff = botapi.user(STAFF_ID)
    user, _ = await report(botapi, 7316, "mother", "lost", attach="pdf")
    current = await staff.next_message()
    notices = []
    for prefix in ("tks:v:", "tks:p:", "tks:r:", "tks:h:"):
        current = await staff_step(staff, current, prefix)
        notices.append((await user.next_message()).text)
    assert "surat keterangan kehilangan asli" in notices[2]
    assert "Kamis, 24 Desember 2026" in notices[2]  # ready until: 30 days
    assert await rows(settings, "SELECT * FROM received_cards") == []


@pytest.mark.parametrize(
    ("walk", "forbidden"),
    [
        ((), "tks:p:"),  # reported → printed: a jump
        ((), "tks:r:"),
        (("tks:v:", "tks:p:", "tks:r:"), "tks:p:"),  # ready → printed: backwards
        (("tks:v:", "tks:p:", "tks:r:", "tks:h:"), "tks:v:"),  # after hand-over
        (("tks:v:", "tks:p:", "tks:r:", "tks:h:"), "tks:h:"),  # handed over twice
    ],
)
async def test_every_forbidden_step_is_refused(botapi, settings, walk, forbidden):
    staff = botapi.user(STAFF_ID)
    user, _ = await report(botapi, 7317, "recorded", "peeling")
    current = await staff.next_message()
    ticket_id = data_of(current, "tks:").rsplit(":", 1)[1]
    for prefix in walk:
        current = await staff_step(staff, current, prefix)
        await user.next_message()
    (before,) = (await rows(settings, "SELECT state FROM tickets"))[0]
    staff.press(current, f"{forbidden}{ticket_id}", raw=True)
    assert "tidak bisa dilakukan" in (await staff.next_message()).text
    assert (await rows(settings, "SELECT state FROM tickets"))[0] == (before,)
    await user.no_message(within=0.2)


async def test_an_open_report_is_said_before_any_upload(botapi, settings):
    user, filed = await report(botapi, 7318, "recorded", "peeling")
    user.send_text("/lapor")
    causes = await user.next_message()
    user.press(causes, "tk:cause:chip")
    people = await user.next_message()
    user.press(people, "tk:who:0")
    refused = await user.next_message()
    assert "Masih ada laporan" in refused.text
    assert ticket_number(filed) in refused.text
    assert len(await rows(settings, "SELECT * FROM tickets")) == 1


async def test_card_not_collected_by_its_deadline_told_and_in_the_staff_list(
    running_bot, botapi, settings, clock
):
    staff = botapi.user(STAFF_ID)
    user, filed = await report(botapi, 7311, "recorded", "peeling")
    number = ticket_number(filed)
    current = await staff.next_message()
    for prefix in ("tks:v:", "tks:p:", "tks:r:"):
        current = await staff_step(staff, current, prefix)
        await user.next_message()
    spec = job_spec("card-pickup")
    (at,) = spec.times
    clock.at = scheduled_at(date(2026, 12, 17), at)  # a week before the deadline (24 December)
    assert await run_slot(CallbackContext(running_bot), spec, at) == 1
    reminder = await user.next_message()
    assert number in reminder.text
    assert "24 Desember 2026" in reminder.text
    clock.at = scheduled_at(date(2026, 12, 25), at)  # the day after the deadline
    assert await run_slot(CallbackContext(running_bot), spec, at) == 1
    notice = await user.next_message()
    assert "belum diambil" in notice.text
    assert "datanglah pada jam layanan" in notice.text
    assert [r[0] for r in await rows(settings, "SELECT state FROM tickets")] == ["not_collected"]
    staff.send_text("/tiket")
    assert "1" in (await staff.next_message()).text
    card = await staff.next_message()
    assert number in card.text
    assert "belum diambil" in card.text
    await staff_step(staff, card, "tks:h:")  # the citizen comes after all: handed over
    assert "diserahkan" in (await user.next_message()).text
