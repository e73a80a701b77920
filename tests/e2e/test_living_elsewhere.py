"""End to end: a family reports that a member works abroad (/domisili); the reminders about him
change (the office's advice, no countdown), the official of his area sees him counted in
/rekap and marked on the outreach list, the admin sees him as his own group in the deactivation
preview; then the report is withdrawn and the usual reminders come back. Every bad input is
answered and changes nothing; the official of another area sees nothing of it."""

from __future__ import annotations

import csv
import io
from datetime import date, time

from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.services.roles import add_user
from tests.conftest import ADMIN_ID, NOW, OFFICIAL_ID, PEOPLE
from tests.e2e.test_links import data_of, link_with_consent

FAMILY = 2301
SRENGAT_OFFICIAL = 9011  # the area of the Lestari household (35.05.03)
RUDI = PEOPLE["unrecorded"]  # wajib KTP, never recorded: counted down to 30 April 2027
COUNTDOWN = time(8, 15)  # the deadline-reminders job


async def reports(app) -> list[tuple]:
    async with app.bot_data["db"].execute(
        "SELECT chat_id, place_kind, place_code, since, reason FROM living_elsewhere"
    ) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def countdown(app, clock, day: date) -> int:
    """The deadline-reminders job on `day` at 08:15 WIB, the clock moved there."""
    clock.at = scheduled_at(day, COUNTDOWN)
    planned = await run_planner(
        job_spec("deadline-reminders"),
        COUNTDOWN,
        db=app.bot_data["db"],
        renderer=app.bot_data["renderer"],
        settings=app.bot_data["settings"],
        day=day,
        now=clock.at,
    )
    app.bot_data["sender"].wake()
    return planned


async def answer(user, text: str) -> str:
    user.send_text(text)
    return (await user.next_message()).text


async def report_rudi_abroad(app, user) -> None:
    """/domisili, Rudi, abroad, Malaysia, June 2025, work: bad answers on the way."""
    user.send_text("/domisili")
    listing = await user.next_message()
    assert "Ani Lestari" in listing.text
    assert "Rudi Lestari" in listing.text
    user.press(listing, "dom:go:2")  # the household oldest first: Ani, then Rudi
    consent = await user.next_message()
    assert "Tinggal di luar daerah: Rudi Lestari" in consent.text
    for told in ("Yang disimpan", "Yang melihat", "tidak membebaskan", "/domisili"):
        assert told in consent.text
    user.press(consent, "dom:k:abroad")
    assert "nama negaranya" in (await user.next_message()).text
    assert "tidak ada negara dengan nama itu" in await answer(user, "Narnia")
    assert "Indonesia bukan luar negeri" in await answer(user, "Indonesia")
    assert "tidak terbaca sebagai nama" in await answer(user, "<b>12</b>")
    assert "Sejak bulan apa Rudi Lestari tinggal di Malaysia" in await answer(user, "malaysia")
    assert "belum tiba" in await answer(user, "12-2026")
    assert "tidak terbaca" in await answer(user, "tahun lalu")
    assert await reports(app) == []  # nothing stored by any bad answer
    user.send_text("06-2025")
    why = await user.next_message()
    user.press(why, "dom:r:work")
    summary = await user.next_message()
    assert "Tinggal di: Malaysia" in summary.text
    assert "Sejak: Juni 2025" in summary.text
    assert await reports(app) == []  # nothing before the confirmation
    user.press(summary, "dom:ok")
    saved = await user.next_message()
    assert "Laporan disimpan" in saved.text
    assert "hubungi Dispendukcapil Kabupaten Blitar" in saved.text


async def test_a_report_of_work_abroad_from_reminders_to_withdrawal(running_bot, botapi, clock):
    db = running_bot.bot_data["db"]
    await add_user(db, SRENGAT_OFFICIAL, "official", service_point=None, area="35.05.03", now=NOW)
    family = botapi.user(FAMILY)
    await link_with_consent(family, "unrecorded", kind="kk")  # the Lestari household
    await report_rudi_abroad(running_bot, family)
    assert await reports(running_bot) == [(FAMILY, "abroad", "MY", "2025-06", "work")]
    audited = await db.execute_fetchall("SELECT actor_id, action FROM audit_log")
    assert (None, "elsewhere:reported") in [tuple(row) for row in audited]

    # The official of his area sees him counted; the official of another area does not.
    srengat = botapi.user(SRENGAT_OFFICIAL)
    srengat.send_text("/rekap")
    summary = await srengat.next_message()
    assert "Rekap Srengat" in summary.text
    assert "Dilaporkan keluarga tinggal di luar daerah</b>: 1 warga belum rekam" in summary.html
    assert "• Malaysia (luar negeri): 1" in summary.text
    kanigoro = botapi.user(OFFICIAL_ID)
    kanigoro.send_text("/rekap")
    other = await kanigoro.next_message()
    assert "Rekap Kanigoro" in other.text
    assert "luar daerah" not in other.text
    assert "Malaysia" not in other.text

    # The admin's deactivation preview: his own group, still counted (nobody is exempted).
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/deaktivasi")
    preview = await admin.next_message()
    assert "belum rekam e-KTP: 1" in preview.text
    assert "Dilaporkan keluarga tinggal di luar daerah (sudah termasuk" in preview.text
    assert "• Malaysia (luar negeri): 1" in preview.text
    assert "Bot tidak mengecualikan siapa pun" in preview.text

    # 30 days before the deadline: the office's advice instead of a visit; then no countdown.
    assert await countdown(running_bot, clock, date(2027, 3, 31)) == 1
    advice = await family.next_message()
    assert "hubungi Dispendukcapil Kabupaten Blitar" in advice.text
    assert "Malaysia" in advice.text
    assert "hari lagi" not in advice.text
    assert "Kanigoro" not in advice.text
    assert advice.buttons == []
    assert await countdown(running_bot, clock, date(2027, 4, 16)) == 0
    await family.no_message(within=0.3)

    # Withdrawn: the next countdown is the usual one, with the booking button.
    family.send_text("/domisili")
    listing = await family.next_message()
    assert "dilaporkan oleh keluarga</i>: tinggal di Malaysia sejak Juni 2025" in listing.html
    family.press(listing, data_of(listing, "dom:rm:"))
    assert "sudah ditarik" in (await family.next_message()).text
    assert "dilaporkan oleh keluarga" not in (await family.next_message()).html
    assert await reports(running_bot) == []
    assert await countdown(running_bot, clock, date(2027, 4, 23)) == 1
    usual = await family.next_message()
    assert "7 hari lagi" in usual.text
    assert "Kanigoro" in usual.text
    assert usual.buttons == [("🗓 Pesan antrean perekaman", "bk:start:rekam")]


async def test_the_outreach_list_marks_a_reported_resident_the_bot_cannot_reach(
    running_bot, botapi
):
    db = running_bot.bot_data["db"]
    await add_user(db, SRENGAT_OFFICIAL, "official", service_point=None, area="35.05.03", now=NOW)
    family = botapi.user(FAMILY)
    await link_with_consent(family, "unrecorded", kind="kk")
    await report_rudi_abroad(running_bot, family)
    family.send_text("/pengingat")
    listing = await family.next_message()
    assert ("🌏 Di luar daerah? Rudi L.", "dom:go:2") in listing.buttons
    family.press(listing, data_of(listing, "rem:t:"))  # reminders off: the bot cannot reach
    await family.next_message()

    srengat = botapi.user(SRENGAT_OFFICIAL)
    srengat.send_text("/rekap")
    await srengat.next_message()
    document = await srengat.next_message()
    data = botapi.sim.files[document.message["document"]["file_id"]].data.decode("utf-8")
    statuses = {row[0]: row[2] for row in csv.reader(io.StringIO(data))}
    assert statuses["Rudi Lestari"] == (
        "wajib KTP belum rekam; dilaporkan keluarga tinggal di Malaysia"
    )
    assert statuses["Ani Lestari"] == "NIK nonaktif"


async def test_buttons_for_someone_not_linked_or_a_report_of_another_chat_change_nothing(
    running_bot, botapi
):
    family = botapi.user(FAMILY)
    await link_with_consent(family, "unrecorded", kind="kk")
    await report_rudi_abroad(running_bot, family)
    [(report_id,)] = await running_bot.bot_data["db"].execute_fetchall(
        "SELECT id FROM living_elsewhere"
    )
    stranger = botapi.user(2302)
    stranger.send_text("/domisili")
    empty = await stranger.next_message()
    assert "Belum ada NIK atau KK yang tertaut" in empty.text
    stranger.press(empty, "dom:go:1", raw=True)
    assert "tidak (lagi) tertaut ke chat ini" in (await stranger.next_message()).text
    stranger.press(empty, f"dom:rm:{report_id}", raw=True)
    assert "tidak berlaku" in (await stranger.next_message()).text
    assert await reports(running_bot) == [(FAMILY, "abroad", "MY", "2025-06", "work")]
