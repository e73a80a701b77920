"""End to end: the annual deactivation through the running bot, from the preview job to the
admin's approval and the linked residents' notices; and the daily digest reaching its chats."""

from __future__ import annotations

from datetime import time

import pytest

from bot.db import vault_of
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.services.roles import add_user
from tests.conftest import ADMIN_ID, NOW, OFFICIAL_ID, PEOPLE, STAFF_ID
from tests.e2e.test_links import data_of, link_with_consent

TODAY = NOW.date()  # Tuesday 24 November 2026: the 30 April 2026 deadline has passed
OTHER_ADMIN = 9004
RUDI = PEOPLE["unrecorded"]  # wajib KTP on 31 December 2025, never recorded: the one to go


async def run_job(app, name: str, at: time) -> int:
    planned = await run_planner(
        job_spec(name),
        at,
        db=app.bot_data["db"],
        renderer=app.bot_data["renderer"],
        settings=app.bot_data["settings"],
        day=TODAY,
        now=scheduled_at(TODAY, at),
    )
    app.bot_data["sender"].wake()
    return planned


async def status_of(app, nik: str) -> tuple[str, str | None]:
    db = app.bot_data["db"]
    async with db.execute(
        "SELECT status_nik, deactivated_on FROM residents WHERE nik_ref = ?",
        (vault_of(db).ref(nik),),
    ) as cur:
        row = await cur.fetchone()
    return row[0], row[1]


@pytest.fixture
async def admins(running_bot, botapi):
    """Two admins, both with a chat open with the bot."""
    await add_user(
        running_bot.bot_data["db"], OTHER_ADMIN, "admin", service_point=None, area=None, now=NOW
    )
    return botapi.user(ADMIN_ID), botapi.user(OTHER_ADMIN)


@pytest.mark.engines("sqlite", "postgresql")
async def test_preview_approval_and_notices(running_bot, botapi, admins):
    admin, other_admin = admins
    by_nik, by_household, teen_parent = botapi.user(2101), botapi.user(2102), botapi.user(2103)
    await link_with_consent(by_nik, "unrecorded", kind="nik")
    await link_with_consent(by_household, "deactivated", kind="kk")  # the Lestari household
    await link_with_consent(teen_parent, "turning17", kind="nik")  # 17 only in December 2026

    assert await run_job(running_bot, "deactivation-preview", time(9, 0)) == 2
    preview = await admin.next_message()
    assert "Pratinjau penonaktifan" in preview.text
    assert "Rabu, 31 Desember 2025" in preview.text
    assert "Kamis, 30 April 2026" in preview.text
    assert "belum rekam e-KTP: 1" in preview.text
    assert "• Srengat: 1" in preview.text
    assert "Karanggayam (Kec. Srengat): 1" in preview.text
    other_preview = await other_admin.next_message()
    assert await run_job(running_bot, "deactivation-preview", time(9, 0)) == 0  # once only
    await admin.no_message(within=0.3)
    assert await status_of(running_bot, RUDI.nik) == ("AKTIF", None)  # a preview changes nothing

    admin.press(preview, data_of(preview, "dz:ask:"))
    confirm = await admin.next_message()
    assert "Saat ini 1 NIK" in confirm.text
    assert [label for label, _ in confirm.buttons] == ["⚠️ Ya, nonaktifkan 1 NIK", "Batal"]
    admin.press(confirm, data_of(confirm, "dz:ok:"))
    done = await admin.next_message()
    assert "Penonaktifan diterapkan" in done.text
    assert "1 NIK dinonaktifkan" in done.text
    assert await status_of(running_bot, RUDI.nik) == ("NONAKTIF", "2026-11-24")
    assert (await status_of(running_bot, PEOPLE["recorded"].nik))[0] == "AKTIF"

    notices = {chat.id: await chat.next_message() for chat in (by_nik, by_household)}
    for notice in notices.values():
        assert "NIK 3505********0005 (Rudi Lestari) dinonaktifkan" in notice.text
        assert "Cara mengaktifkan kembali" in notice.text
        assert RUDI.nik not in notice.text
        assert RUDI.kk not in notice.text
        assert notice.buttons == [("🗓 Pesan antrean perekaman", "bk:start:rekam")]
    await teen_parent.no_message(within=0.3)

    # the second admin, and the first pressing again: nothing changes, they are told why
    other_admin.press(other_preview, data_of(other_preview, "dz:ask:"))
    told = await other_admin.next_message()
    assert "sudah diterapkan sebelumnya" in told.text
    assert "admin dengan ID Telegram 9003" in told.text
    assert "1 NIK dinonaktifkan" in told.text
    admin.press(confirm, data_of(confirm, "dz:ok:"))
    again = await admin.next_message()
    assert "sudah diterapkan sebelumnya" in again.text
    assert "Disetujui oleh Anda" in again.text
    await by_nik.no_message(within=0.3)

    by_nik.press(
        notices[by_nik.id], "bk:start:rekam"
    )  # the notice's button starts a recording booking
    assert "Untuk siapa kunjungan ini?" in (await by_nik.next_message()).text


@pytest.mark.parametrize("who", [STAFF_ID, OFFICIAL_ID, 2201])
async def test_only_admins_may_press_the_deactivation_buttons(running_bot, botapi, admins, who):
    admin, _ = admins
    await run_job(running_bot, "deactivation-preview", time(9, 0))
    preview = await admin.next_message()
    run_id = data_of(preview, "dz:ask:").rpartition(":")[2]
    user = botapi.user(who)
    user.send_text("/start")
    own = await user.next_message()
    for data in (f"dz:ask:{run_id}", f"dz:ok:{run_id}", f"dz:csv:{run_id}"):
        user.press(own, data, raw=True)  # forged: the same data on a message of their own
        assert "hanya untuk petugas" in (await user.next_message()).text
    assert await status_of(running_bot, RUDI.nik) == ("AKTIF", None)
    async with running_bot.bot_data["db"].execute(
        "SELECT count(*), sum(r.repeats) FROM audit_log a JOIN audit_repeats r ON r.audit_id = a.id"
        " WHERE a.actor_id = ? AND a.action = 'command:deaktivasi' AND a.detail = 'refused'",
        (who,),
    ) as cur:
        assert tuple(await cur.fetchone()) == (1, 2)  # three refusals: one row, two repeats


async def test_cancel_then_the_command_shows_the_preview_again(running_bot, botapi, admins):
    admin, _ = admins
    admin.send_text("/deaktivasi")  # before the job: the preview is prepared on demand
    preview = await admin.next_message()
    assert "belum rekam e-KTP: 1" in preview.text
    admin.press(preview, data_of(preview, "dz:ask:"))
    confirm = await admin.next_message()
    admin.press(confirm, data_of(confirm, "dz:no:"))
    assert "Tidak jadi" in (await admin.next_message()).text
    assert await status_of(running_bot, RUDI.nik) == ("AKTIF", None)
    assert await run_job(running_bot, "deactivation-preview", time(9, 0)) == 2
    from_the_job = await admin.next_message()
    assert data_of(from_the_job, "dz:ask:") == data_of(preview, "dz:ask:")  # the same run

    admin.press(preview, data_of(preview, "dz:csv:"))
    document = await admin.next_message()
    assert document.method == "sendDocument"
    stored = botapi.sim.files[document.message["document"]["file_id"]]
    assert stored.file_name == "penonaktifan-2026-04-30.csv"
    assert stored.data.decode().splitlines() == [
        "kode_kecamatan,kecamatan,kode_desa,desa,jumlah",
        "350503,Srengat,3505032001,Karanggayam,1",
    ]


async def test_the_digest_reaches_staff_and_admins(running_bot, botapi):
    staff, admin, official = botapi.user(STAFF_ID), botapi.user(ADMIN_ID), botapi.user(OFFICIAL_ID)
    assert await run_job(running_bot, "daily-digest", time(7, 0)) == 2
    digest = await staff.next_message()
    assert "Ringkasan pagi, Selasa, 24 November 2026" in digest.text
    assert "Kantor Dispendukcapil Kabupaten Blitar" in digest.text
    regency = await admin.next_message()
    assert "Ringkasan pagi Kabupaten Blitar" in regency.text
    assert "Remaja berusia 17 tahun pada 2026: sudah rekam 0 dari 1 (0,0 %)" in regency.text
    await official.no_message(within=0.3)
    assert await run_job(running_bot, "daily-digest", time(7, 0)) == 0
