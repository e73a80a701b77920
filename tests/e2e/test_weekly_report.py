"""End to end: the admins' weekly report, moved to under time travel. It arrives on Monday
07:00 WIB, to the admin only, once however often the slot runs; its charts are real PNGs and
its CSV gives every scope the numbers figures() gives."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time

import pytest
from telegram.ext import CallbackContext

from bot.charts import COLOURS, WIDTH_PX
from bot.jobs import run_slot
from bot.jobs.registry import job_spec
from bot.services.figures import REGENCY_CODE, area_scope, figures, point_scope
from bot.storage.areas import list_children
from bot.storage.service_points import list_service_points
from tests.conftest import ADMIN_ID, OFFICIAL_ID, STAFF_ID
from tests.e2e.test_charts import SLOW, _plant_activity, has_colour, png_of
from tests.village import plant

MONDAY = date(2026, 11, 30)
SEVEN_WIB = time(7, 0)


@pytest.fixture
async def village(running_bot, tmp_path):
    db = running_bot.bot_data["db"]
    await plant(db, tmp_path)
    await _plant_activity(db)
    return db


async def weekly_slot(bot, clock, day: date) -> int:
    """Move the clock to 07:00 WIB of `day` and run the weekly report's slot, as the JobQueue
    (or the catch-up after a restart) would; wake the sender."""
    clock.at = datetime(day.year, day.month, day.day, 0, 0, tzinfo=UTC)  # 07:00 WIB
    planned = await run_slot(CallbackContext(bot), job_spec("weekly-report"), SEVEN_WIB)
    bot.bot_data["sender"].wake()
    return planned


async def test_the_weekly_report_arrives_on_monday_to_admins_once(
    running_bot, botapi, clock, village
):
    admin, official, staff = (botapi.user(i) for i in (ADMIN_ID, OFFICIAL_ID, STAFF_ID))
    for day in (date(2026, 11, 28), date(2026, 11, 29)):  # Saturday, Sunday
        assert await weekly_slot(running_bot, clock, day) == 0
    assert await weekly_slot(running_bot, clock, MONDAY) > 0
    report = [await admin.next_message(timeout=SLOW)]
    while report[-1].method != "sendDocument":
        report.append(await admin.next_message(timeout=SLOW))
    assert "Laporan mingguan Kabupaten Blitar, Senin, 30 November 2026" in report[0].text
    photos = [message for message in report if message.method == "sendPhoto"]
    assert [p.text.split("\n")[0] for p in photos] == [
        "Kabupaten Blitar: belum rekam dan NIK nonaktif per kecamatan",
        "Kabupaten Blitar: dari diingatkan sampai rekam, 1 November 2026 – 30 November 2026",
        "Kabupaten Blitar: berusia 17 pada 2026 yang sudah rekam",
        "Antrean per tempat layanan, 1 November 2026 – 30 November 2026",
    ]
    for photo in photos:
        image = png_of(botapi, photo)
        assert image.width == WIDTH_PX
        assert image.height >= 500
        assert has_colour(image, COLOURS[2]) or has_colour(image, COLOURS[0])  # bars, lines
    await _check_csv(village, botapi.sim.files[report[-1].message["document"]["file_id"]].data)
    assert report[-1].message["document"]["file_name"] == "figures-2026-11-30.csv"
    # once: the slot run again on Monday (a restart's catch-up, run-job) and on Tuesday
    assert await weekly_slot(running_bot, clock, MONDAY) == 0
    assert await weekly_slot(running_bot, clock, date(2026, 12, 1)) == 0
    await admin.no_message(within=0.5)
    await official.no_message(within=0.1)  # only admins
    await staff.no_message(within=0.1)


async def _check_csv(db, data: bytes) -> None:
    """One row per scope, each with the numbers figures() gives that scope on Monday."""
    rows = {row["code"]: row for row in csv.DictReader(io.StringIO(data.decode("utf-8")))}
    scopes = [await area_scope(db, REGENCY_CODE)]
    scopes += [await area_scope(db, area.code) for area in await list_children(db, REGENCY_CODE)]
    scopes += [await point_scope(db, point) for point in await list_service_points(db)]
    assert len(rows) == len(scopes) == 1 + 22 + len(await list_service_points(db))
    for scope in scopes:
        f = await figures(db, scope, today=MONDAY)
        row = rows[scope.point.code if scope.point else scope.area.code]
        assert row["scope"] == ("service_point" if scope.point else scope.area.level)
        expected = {
            "residents": f.residents,
            "wajib_ktp": f.wajib_ktp,
            "unrecorded_wajib": f.unrecorded_wajib.total,
            "turning_17_unrecorded": f.turning_17_unrecorded.total,
            "deactivated": f.deactivated.total,
            "linked": f.linked,
            "outreach": f.outreach,
            "reminded": f.reminded,
            "booked": f.booked,
            "came": f.came,
            "no_show": f.no_show,
            "recorded": f.recorded,
        }
        assert {k: int(row[k]) for k in expected} == expected, row["code"]
    regency = rows[REGENCY_CODE]
    assert (regency["unrecorded_wajib"], regency["booked"], regency["no_show"]) == ("3", "2", "1")


async def test_a_bot_down_on_monday_sends_the_report_at_its_next_run_that_week(
    running_bot, botapi, clock, village
):
    assert await weekly_slot(running_bot, clock, date(2026, 12, 1)) == 0  # first run: Tuesday
    assert await weekly_slot(running_bot, clock, date(2026, 12, 6)) == 0  # Sunday
    # down from Sunday to Tuesday 8 December: Monday's report comes on Tuesday, once
    assert await weekly_slot(running_bot, clock, date(2026, 12, 8)) > 0
    assert await weekly_slot(running_bot, clock, date(2026, 12, 9)) == 0
    first = await botapi.user(ADMIN_ID).next_message(timeout=SLOW)
    assert "Laporan mingguan Kabupaten Blitar, Senin, 7 Desember 2026" in first.text
