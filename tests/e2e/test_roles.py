"""End to end: role commands are guarded, audited, and shown only in role menus."""

from __future__ import annotations

import pytest

from bot.engine import open_database
from tests.conftest import ADMIN_ID, OFFICIAL_ID, STAFF_ID

pytestmark = pytest.mark.usefixtures("running_bot")


async def audit_rows(settings):
    conn = await open_database(settings)
    async with conn.execute(
        "SELECT actor_id, action, detail FROM audit_log WHERE action LIKE 'command:%'"
    ) as cur:
        rows = [tuple(r) for r in await cur.fetchall()]
    await conn.close()
    return rows


@pytest.mark.parametrize("command", ["hari_ini", "rekap", "siaran", "statistik"])
async def test_role_commands_refused_for_a_citizen(botapi, settings, command):
    citizen = botapi.user(3001)
    citizen.send_text(f"/{command}")
    refused = await citizen.next_message()
    assert "hanya untuk petugas" in refused.text
    assert (3001, f"command:{command}", "refused") in await audit_rows(settings)


async def test_staff_sees_today_and_cannot_use_admin_commands(botapi, settings):
    staff = botapi.user(STAFF_ID)
    staff.send_text("/hari_ini")
    today = await staff.next_message()
    assert "Kantor Dispendukcapil Kabupaten Blitar" in today.text
    assert "Selasa, 24 November 2026" in today.text
    staff.send_text("/statistik")
    assert "hanya untuk petugas" in (await staff.next_message()).text


async def test_official_summary_is_only_their_area(botapi):
    official = botapi.user(OFFICIAL_ID)
    official.send_text("/rekap")
    summary = await official.next_message()
    assert "Rekap Kanigoro" in summary.text
    assert "Penduduk: 4" in summary.text  # the Santoso family lives in Kanigoro
    assert "Berusia 17 tahun pada 2026:\n• belum rekam: 1" in summary.text


async def test_admin_statistics_cover_the_regency(botapi):
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/statistik")
    stats = await admin.next_message()
    assert "Penduduk: 6 (wajib KTP: " in stats.text
    assert "NIK nonaktif: 1" in stats.text


async def test_role_menu_only_in_the_role_chat(botapi):
    staff = botapi.user(STAFF_ID)
    staff.send_text("/start")
    await staff.next_message()
    await staff.no_message(within=0.3)
    staff_menu = [c["command"] for c in botapi.commands_for(("chat", STAFF_ID))]
    assert staff_menu[0] == "hari_ini"
    assert "statistik" not in staff_menu
    assert "hari_ini" not in [c["command"] for c in botapi.commands_for(("default",))]
