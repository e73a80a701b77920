"""The residents' groups on both engines (bot/storage/stats.py, elsewhere.py, trends.py): SQLite
decides them in SQL over the sealed birth date, PostgreSQL by the clear year in SQL and the
boundary years' rows in Python. One population (a sample, people planted on every side of the
birth-date boundaries, addresses, reports of living elsewhere, a link) is imported into both;
the outreach list, the places counted and the teens' recording days must agree with each other
and with what the planted people are."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from bot import postgres
from bot.db import vault_of
from bot.nik import make_nik
from bot.sample import write_sample
from bot.services.figures import ages_on
from bot.services.importer import import_residents
from bot.storage import elsewhere
from bot.storage.areas import sync_areas
from bot.storage.chats import ensure_chat
from bot.storage.stats import MEMBER_SEPARATOR, Ages, outreach_rows
from bot.storage.trends import teen_recording_days
from tests.conftest import NOW, SECRET_KEY

TODAY = NOW.date()
# Bounds inside a year, so that the boundary years' rows are decided after opening.
AGES = Ages(adult=date(2009, 11, 24), teen_from=date(2009, 3, 1), teen_to=date(2010, 2, 28))
DESA = "3505102001"
KK = "3505100101090001"
REPORTER = 7001


def _planted(n: int, born: date, *, kawin="BELUM KAWIN", rekam="", status="AKTIF", kk=KK):
    nik = make_nik("350510", born, "L", n)
    return [nik, kk, f"WARGA TAPAL {n}", born.isoformat(), "L", kawin, DESA, rekam, status]


# (row, its outreach status under AGES or None, reported living elsewhere)
PLANTED = [
    (_planted(1, date(2009, 11, 24)), "turning17", True),  # the adult boundary, a teen too
    (_planted(2, date(2009, 11, 25)), "turning17", True),
    (_planted(3, date(2009, 2, 28)), "unrecorded", True),  # before the teens: an adult
    (_planted(4, date(2009, 3, 1)), "turning17", False),
    (_planted(5, date(2010, 2, 28)), "turning17", True),
    (_planted(6, date(2010, 3, 1)), None, True),  # too young, unmarried
    (_planted(7, date(2010, 3, 1), kawin="KAWIN"), "unrecorded", True),  # married: wajib KTP
    (_planted(8, date(2010, 3, 1), status="NONAKTIF"), "deactivated", True),
    (_planted(9, date(2009, 6, 1), rekam="2026-10-01"), None, True),  # recorded teen
    (_planted(10, date(2010, 1, 5), kk="3505100101090002"), None, False),  # linked: reachable
]


@pytest.fixture
async def engines(db, pg_migrated_url, tmp_path):
    """The same population in SQLite (`db`) and in PostgreSQL."""
    pg = await postgres.connect(pg_migrated_url, SECRET_KEY)
    try:
        await _populate(db, pg, tmp_path)
        yield db, pg
    finally:
        await pg.close()


async def _populate(db, pg, tmp_path):
    await sync_areas(pg)
    sample = tmp_path / "sample.csv"
    write_sample(sample, 600, seed=21, today=TODAY)
    with sample.open(encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    rows += [list(row) for row, _, _ in PLANTED]
    for n, row in enumerate(rows):  # an address for two rows in three, some without RT
        row += ["", "", ""] if n % 3 == 0 else [f"Jl. Melati {n % 7}", str(n % 4 or ""), "2"]
    export = tmp_path / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([[*header, "alamat", "rt", "rw"], *rows])
    reported = [row[0] for row, _, away in PLANTED if away] + [row[0] for row in rows[:40]]
    for conn in (db, pg):
        report = await import_residents(conn, export, now=NOW)
        assert report.rejected == []
        await ensure_chat(conn, REPORTER, locale="id", now=NOW)
        for n, nik in enumerate(reported):
            await elsewhere.save_report(
                conn,
                REPORTER,
                nik,
                place_kind="abroad" if n % 2 else "regency",
                place_code="MY" if n % 2 else "35.78",
                since=date(2025, 1, 1),
                reason=None,
                now=NOW,
            )
        await conn.execute(
            "INSERT INTO links (chat_id, kind, subject_ref, reminders_on, consent_at)"
            " VALUES (?, 'nik', ?, 1, ?)",
            (REPORTER, vault_of(conn).ref(PLANTED[-1][0][0]), NOW.isoformat()),
        )


BOTH_AGES = [AGES, ages_on(TODAY)]


async def test_the_outreach_list_is_the_same_on_both_engines(engines):
    for ages in BOTH_AGES:
        for code in ("3505", "350510", DESA):
            listed = [[row async for row in outreach_rows(c, code, ages=ages)] for c in engines]
            assert listed[0] == listed[1], (ages, code)
            assert listed[0], (ages, code)
    rows = [row async for row in outreach_rows(engines[1], "3505", ages=AGES)]
    assert {row.status for row in rows} == {"deactivated", "turning17", "unrecorded"}
    assert any(row.members and MEMBER_SEPARATOR in row.members for row in rows)
    assert any(row.alamat for row in rows)
    assert any(row.rt is None and row.rw for row in rows)
    assert any(row.elsewhere for row in rows)
    statuses = {row.nama: row.status for row in rows}
    assert {row[2]: statuses.get(row[2]) for row, _, _ in PLANTED} == {
        row[2]: status for row, status, _ in PLANTED
    }


async def test_places_are_counted_the_same_on_both_engines(engines):
    for ages in BOTH_AGES:
        for code in ("3505", "350510", DESA):
            counted = [await elsewhere.area_places(c, code, ages=ages) for c in engines]
            assert counted[0] == counted[1], (ages, code)
            assert counted[0], (ages, code)
    # The planted residents of DESA reported and in an outreach group under AGES, and no other
    # (the sample's reported residents are elsewhere in the regency, or the counts say so).
    planted = await elsewhere.area_places(engines[1], DESA, ages=AGES)
    away = sum(status is not None for _, status, away in PLANTED if away)
    assert sum(place.count for place in planted) >= away


async def test_teen_recording_days_are_the_same_on_both_engines(engines):
    for ages in BOTH_AGES:
        counted = [await teen_recording_days(c, "3505", "3506", ages=ages) for c in engines]
        assert counted[0] == counted[1], ages
        teens, days = counted[0]
        assert teens > sum(days.values()) > 0
    planted, planted_days = await teen_recording_days(engines[1], DESA, DESA + "~", ages=AGES)
    assert planted >= 5
    assert planted_days.get("2026-10-01", 0) >= 1


async def test_the_outreach_csv_and_places_of_rekap_are_the_same_on_both_engines(engines):
    """/rekap's services on both engines: the printable list (CSV) and the places."""
    from bot.domain import RoleUser
    from bot.services import summaries

    official = RoleUser(telegram_id=42, role="official", service_point=None, area_code="350510")
    names = {"deactivated": "NONAKTIF", "turning17": "17 TAHUN", "unrecorded": "BELUM REKAM"}
    lists = [
        await summaries.outreach_list(conn, official, status_names=names, today=TODAY, now=NOW)
        for conn in engines
    ]
    assert lists[0].content.getvalue() == lists[1].content.getvalue()
    assert lists[0].rows == lists[1].rows > 0
    places = [await summaries.reported_elsewhere(c, official, today=TODAY) for c in engines]
    assert places[0] == places[1]
    assert places[0]


async def test_the_teens_trend_is_the_same_on_both_engines(engines):
    from bot.services.trends import teen_trend

    trends = [await teen_trend(conn, "3505", today=TODAY) for conn in engines]
    assert trends[0] == trends[1]
    assert trends[0].teens > trends[0].recorded > 0
