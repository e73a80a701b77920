"""End to end: /siaran from template to delivery report, through the outbox and its sender."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from bot.db import transaction
from bot.domain import RoleUser
from bot.services import broadcasts, drives, outbox
from bot.services.broadcasts import Draft
from bot.storage import chats, users
from botapi.server import BOT_USERNAME
from tests.conftest import ADMIN_ID, NOW, OFFICIAL_ID, STAFF_ID
from tests.village import BLOCKED, CHATS, OFFICIAL_AUDIENCES, REGENCY_LINKED, plant

OFFICIAL = RoleUser(OFFICIAL_ID, "official", None, "350510")


@pytest.fixture
async def village(running_bot, botapi, tmp_path):
    """The village population and its linked chats, each chat a simulated Telegram user."""
    db = running_bot.bot_data["db"]
    await plant(db, tmp_path)
    for chat_id in CHATS:
        botapi.user(chat_id)
    for chat_id in BLOCKED:
        botapi.user(chat_id).block()
    return db


async def compose(official, template, audience, *, typed=(), pressed=()):
    """/siaran → template → typed answers or pressed choices → audience; return (preview,
    confirm)."""
    official.send_text("/siaran")
    start = await official.next_message()
    official.press(start, f"sr:t:{template}")
    for answer in typed:
        await official.next_message()  # the question
        official.send_text(answer)
    for data in pressed:
        official.press(await official.next_message(), data)
    audiences = await official.next_message()
    official.press(audiences, f"sr:a:{audience}")
    return await official.next_message(), await official.next_message()


async def broadcast(official, template="invitation", audience="linked", *, typed=()):
    """A confirmed broadcast; return (preview, sent)."""
    preview, confirm = await compose(official, template, audience, typed=typed)
    official.press(confirm, "sr:ok")
    return preview, await official.next_message()


async def received(botapi, chat_ids):
    """The next message of each chat."""
    return {chat_id: await botapi.user(chat_id).next_message() for chat_id in chat_ids}


async def all_final(db, broadcast_id):
    """Wait (bounded) until the sender has given every message of the broadcast its outcome."""
    async with asyncio.timeout(10):
        while True:
            report = await outbox.delivery_report(db, f"broadcast:{broadcast_id}:")
            if report["queued"] == report["sending"] == 0:
                return report
            await asyncio.sleep(0.05)


async def kanigoro_drive(db):
    """A drive for the whole of Kecamatan Kanigoro (the official's area)."""
    return await drives.create_drive(
        db,
        admin=None,
        name="Perekaman keliling SMAN 1 Kanigoro",
        place="Balai Desa Jatinom, Jl. Raya 5",
        day=date(2026, 12, 1),
        hours="08:00-12:00",
        capacity=5,
        area="350510",
        service_point="kanigoro",
        now=NOW,
    )


TYPED = {
    "invitation": (),
    "deadline": (),
    "mobile": (),
    "free": ("Kerja bakti <Minggu> & perekaman di balai desa.",),
}
EXPECTED = {
    "invitation": "bawa Kartu Keluarga",
    "deadline": "Batas perekaman e-KTP: Jumat, 30 April 2027",
    "mobile": "Hari: Selasa, 1 Desember 2026, pukul 08.00–12.00 WIB\nTempat: Balai Desa Jatinom",
    "free": "Kerja bakti <Minggu> & perekaman di balai desa.",
}


@pytest.mark.parametrize("template", list(TYPED))
async def test_each_template_reaches_the_linked_residents_as_previewed(botapi, village, template):
    official = botapi.user(OFFICIAL_ID)
    drive = await kanigoro_drive(village)
    pressed = [f"sr:d:{drive.code}"] if template == "mobile" else []
    preview, confirm = await compose(
        official, template, "linked", typed=TYPED[template], pressed=pressed
    )
    assert EXPECTED[template] in preview.text
    assert "Pesan dari Kecamatan Kanigoro" in preview.text
    assert "Penerima: 4 chat" in confirm.text
    official.press(confirm, "sr:ok")
    sent = await official.next_message()
    assert "Siaran #1 masuk antrean pengiriman untuk 4 chat" in sent.text
    messages = await received(botapi, OFFICIAL_AUDIENCES["linked"])
    for chat_id, message in messages.items():
        if CHATS[chat_id][0] == "id":
            assert message.html == preview.html  # exactly what the official saw
            assert message.buttons == preview.buttons
        else:
            assert "Message from Kecamatan Kanigoro" in message.text
    if template == "mobile":  # the button opens the booking at the drive
        link = f"https://t.me/{BOT_USERNAME}?start=drv_{drive.code}"
        assert preview.buttons == [("🗓 Pesan tempat perekaman keliling", link)]
        assert messages[104].buttons == [("🗓 Book a place at the mobile recording", link)]
    for chat_id in set(CHATS) - OFFICIAL_AUDIENCES["linked"]:
        await botapi.user(chat_id).no_message(within=0.2)


@pytest.mark.parametrize("audience", sorted(OFFICIAL_AUDIENCES))
async def test_each_audience_gets_it_and_nobody_else(botapi, village, audience):
    official = botapi.user(OFFICIAL_ID)
    preview, sent = await broadcast(official, "deadline", audience)
    expected = OFFICIAL_AUDIENCES[audience]
    assert f"untuk {len(expected)} chat" in sent.text
    await received(botapi, expected)
    await all_final(village, 1)
    for chat_id in CHATS:
        got = [m for m in botapi.user(chat_id).inbox if "Kecamatan Kanigoro" in m.text]
        assert len(got) == (chat_id in expected)  # once each; none outside, off or blocked
        if got and CHATS[chat_id][0] == "id":
            assert got[0].html == preview.html


async def test_an_english_official_previews_what_english_residents_get(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    async with transaction(village):
        await chats.set_locale(village, OFFICIAL_ID, "en", now=NOW)
    preview, sent = await broadcast(official, "deadline", "deactivated")
    assert "Broadcast #1 is queued for 1 chat." in sent.text
    assert (await botapi.user(104).next_message()).html == preview.html  # Joko reads English


async def test_the_admin_reaches_the_whole_regency(botapi, village):
    admin = botapi.user(ADMIN_ID)
    preview, sent = await broadcast(admin, "invitation", "linked")
    assert "Dispendukcapil Kabupaten Blitar" in preview.text
    assert f"untuk {len(REGENCY_LINKED)} chat" in sent.text
    await received(botapi, REGENCY_LINKED)


async def test_zero_recipients_is_said_and_nothing_is_created(botapi, village):
    async with transaction(village):
        await village.execute("UPDATE links SET reminders_on = 0 WHERE chat_id = 104")
    official = botapi.user(OFFICIAL_ID)
    official.send_text("/siaran")
    official.press(await official.next_message(), "sr:t:invitation")
    official.press(await official.next_message(), "sr:a:deactivated")
    refusal = await official.next_message()
    assert "tidak ada yang bisa dikirimi" in refusal.text
    again = await official.next_message()
    assert "sr:a:linked" in [data for _, data in again.buttons]
    async with village.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 0


async def test_the_fourth_broadcast_of_the_day_is_refused(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    for _ in range(3):
        await broadcast(official)
    official.send_text("/siaran")
    status = await official.next_message()
    assert "Siaran hari ini: 3 dari 3" in status.text
    assert status.buttons == []
    assert "#3" in status.text
    refusal = await official.next_message()
    assert "batas 3 siaran per hari sudah tercapai" in refusal.text
    assert "mulai Rabu, 25 November 2026 pukul 00.00 WIB" in refusal.text


async def test_the_limit_is_checked_again_at_confirmation(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    _, confirm = await compose(official, "invitation", "linked")
    for minute in range(3):  # meanwhile, three broadcasts from another device
        draft = Draft("deadline", "linked")
        await broadcasts.send(
            village,
            OFFICIAL,
            draft,
            {"id": "x", "en": "x"},
            default_locale="id",
            now=NOW.replace(minute=minute),
        )
    official.press(confirm, "sr:ok")
    assert "batas 3 siaran per hari" in (await official.next_message()).text
    async with village.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 3


async def test_free_text_over_a_thousand_characters_is_refused(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    official.send_text("/siaran")
    official.press(await official.next_message(), "sr:t:free")
    assert "paling banyak 1.000 karakter" in (await official.next_message()).text
    official.send_text("a" * 1001)
    refusal = await official.next_message()
    assert "paling banyak 1.000 karakter; pesan Anda 1.001 karakter" in refusal.text
    official.send_text("a" * 1000)
    audiences = await official.next_message()
    assert "sr:a:linked" in [data for _, data in audiences.buttons]


async def test_no_drive_planned_in_the_area_is_said_and_nothing_is_created(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    official.send_text("/siaran")
    official.press(await official.next_message(), "sr:t:mobile")
    told = await official.next_message()
    assert "Belum ada perekaman keliling terjadwal di wilayah Kanigoro" in told.text
    assert told.buttons == []
    async with village.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 0


@pytest.mark.parametrize("user_id", [3001, STAFF_ID])
@pytest.mark.parametrize("command", ["siaran", "rekap"])
async def test_citizens_and_staff_are_refused(botapi, village, user_id, command):
    user = botapi.user(user_id)
    user.send_text(f"/{command}")
    assert "hanya untuk petugas" in (await user.next_message()).text
    await user.no_message(within=0.2)


async def test_a_revoked_official_cannot_finish_a_broadcast(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    _, confirm = await compose(official, "invitation", "linked")
    async with transaction(village):  # the admin makes the account staff meanwhile
        await users.upsert_user(village, RoleUser(OFFICIAL_ID, "staff", "kanigoro", None), now=NOW)
    official.press(confirm, "sr:ok")
    assert "hanya untuk petugas" in (await official.next_message()).text
    async with village.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 0


async def test_the_area_is_the_accounts_at_confirmation_not_the_drafts(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    _, confirm = await compose(official, "invitation", "linked")
    moved = RoleUser(OFFICIAL_ID, "official", None, "350503")  # now Talun's official
    async with transaction(village):
        await users.upsert_user(village, moved, now=NOW)
    official.press(confirm, "sr:ok")
    assert "untuk 2 chat" in (await official.next_message()).text
    await received(botapi, {105, 106})
    for chat_id in OFFICIAL_AUDIENCES["linked"]:
        await botapi.user(chat_id).no_message(within=0.1)


async def test_a_forged_confirm_button_sends_nothing(botapi, village):
    citizen = botapi.user(3001)
    citizen.send_text("/start")
    menu = await citizen.next_message()
    citizen.press(menu, "sr:ok", raw=True)
    assert "tidak berlaku" in (await citizen.next_message()).text
    async with village.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 0


async def test_cancel_sends_nothing(botapi, village):
    official = botapi.user(OFFICIAL_ID)
    _, confirm = await compose(official, "invitation", "linked")
    official.press(confirm, "sr:no")
    assert "dibatalkan" in (await official.next_message()).text
    official.press(confirm, "sr:ok")  # the old button after cancelling
    assert "tidak berlaku" in (await official.next_message()).text
    async with village.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 0


async def test_the_delivery_report_counts_a_recipient_who_blocked_the_bot(
    botapi, village, running_bot
):
    botapi.user(101).block()  # blocked since linking: the bot learns it from Telegram's 403
    official = botapi.user(OFFICIAL_ID)
    await broadcast(official, "invitation", "linked")
    await received(botapi, {102, 104, 108})
    report = await all_final(village, 1)
    assert (report["sent"], report["blocked"], report["failed"]) == (3, 1, 0)
    refused = [e for e in botapi.errors if e.params["chat_id"] == 101]
    assert [e.description for e in refused] == ["Forbidden: bot was blocked by the user"]
    botapi.errors[:] = [e for e in botapi.errors if e not in refused]  # expected, not a bug
    job = running_bot.job_queue.get_jobs_by_name("broadcast-reports")[0]
    await job.run(running_bot)
    delivered = await official.next_message()
    assert "Laporan siaran #1" in delivered.text
    assert "Terkirim: 3" in delivered.text
    assert "Diblokir (warga memblokir bot): 1" in delivered.text
    assert "Gagal: 0" in delivered.text
    await job.run(running_bot)  # once only
    await official.no_message(within=0.3)

    official.send_text("/siaran")  # the status shows the figures too
    status = await official.next_message()
    assert "Siaran hari ini: 1 dari 3" in status.text
    assert "terkirim 3, diblokir 1, gagal 0" in status.text


async def test_the_report_waits_for_quiet_hours_to_end(botapi, village, running_bot, clock):
    clock.at = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 21:00 WIB
    official = botapi.user(OFFICIAL_ID)
    _, confirm = await compose(official, "invitation", "deactivated")
    assert "pesan dikirim mulai 07.00 WIB" in confirm.text
    official.press(confirm, "sr:ok")
    assert "dikirim mulai 07.00 WIB" in (await official.next_message()).text
    job = running_bot.job_queue.get_jobs_by_name("broadcast-reports")[0]
    await job.run(running_bot)
    await official.no_message(within=0.3)  # nothing delivered yet, so no report
    await botapi.user(104).no_message(within=0.1)
