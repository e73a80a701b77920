"""What successful checks leave behind is bounded (issue 13, finding 14): at most ten
verifications in an account's memory, and one stored row per account."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.services.burst import CheckLimits
from bot.services.importer import import_residents
from bot.services.status import check_status
from tests.conftest import NOW, PEOPLE, write_population

TODAY = date(2026, 11, 24)


@pytest.fixture
async def loaded(db, tmp_path):
    await import_residents(db, write_population(tmp_path / "p.csv"), now=NOW)
    return db


async def stored(db) -> list[tuple[int, int]]:
    sql = "SELECT user_id, succeeded FROM check_attempts ORDER BY user_id, succeeded"
    return [tuple(row) for row in await db.execute_fetchall(sql)]


async def test_an_account_keeps_one_row_of_its_successful_checks(loaded):
    person = PEOPLE["recorded"]
    wrong = next(p for p in PEOPLE.values() if p.kk != person.kk)
    for minute in range(20):  # the same household checked again and again
        now = NOW + timedelta(minutes=minute)
        status = await check_status(
            loaded, 1, person.nik, person.kk, limits=CheckLimits(), now=now, today=TODAY
        )
        assert status is not None
    await check_status(loaded, 1, person.nik, wrong.kk, limits=CheckLimits(), now=NOW, today=TODAY)
    await check_status(loaded, 2, person.nik, person.kk, limits=CheckLimits(), now=NOW, today=TODAY)
    assert await stored(loaded) == [(1, 0), (1, 1), (2, 1)]  # the failure counts for the lockout
