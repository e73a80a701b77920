"""The status check service: proof, anti-enumeration, lockout, situations."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from bot.errors import CheckLocked, InvalidNik
from bot.nik import make_nik
from bot.services.burst import CheckLimits
from bot.services.cycle import cycle_in_force
from bot.services.importer import import_residents
from bot.services.lockout import ensure_not_locked
from bot.services.status import check_status
from tests.conftest import KK_LESTARI, KK_SANTOSO, NOW, PEOPLE, write_population

TODAY = date(2026, 11, 24)


@pytest.fixture
async def loaded(db, tmp_path):
    await import_residents(db, write_population(tmp_path / "p.csv"), now=NOW)
    return db


@pytest.fixture
async def loaded_on_both(engine_areas, tmp_path):
    await import_residents(engine_areas, write_population(tmp_path / "p.csv"), now=NOW)
    return engine_areas


async def check(db, nik, kk, *, user=1, now=NOW):
    return await check_status(db, user, nik, kk, limits=CheckLimits(), now=now, today=TODAY)


@pytest.mark.parametrize(
    ("today", "cohort", "deadline"),
    [
        (date(2026, 11, 22), date(2026, 12, 31), date(2027, 4, 30)),
        (date(2027, 4, 30), date(2026, 12, 31), date(2027, 4, 30)),
        (date(2027, 5, 1), date(2027, 12, 31), date(2028, 4, 30)),
        (date(2025, 1, 15), date(2024, 12, 31), date(2025, 4, 30)),
    ],
)
def test_cycle_in_force(today, cohort, deadline):
    cycle = cycle_in_force(today)
    assert (cycle.cohort_date, cycle.deadline) == (cohort, deadline)


@pytest.mark.parametrize(
    ("who", "situation"),
    [
        ("recorded", "recorded"),
        ("deactivated", "deactivated"),
        ("unrecorded", "unrecorded"),
        ("turning17", "turning_17"),
        ("child", "not_yet"),
    ],
)
async def test_situations(loaded_on_both, who, situation):
    person = PEOPLE[who]
    status = await check(loaded_on_both, person.nik, person.kk)
    assert status is not None
    assert status.situation == situation
    assert status.resident.nama == person.nama
    assert await check(loaded_on_both, person.nik, KK_LESTARI if person.kk != KK_LESTARI
                       else KK_SANTOSO, user=2) is None  # fmt: skip


async def test_married_teen_is_wajib_ktp(db, tmp_path):
    from tests.conftest import _person

    bride = _person("Lina", date(2010, 1, 5), "P", kk=KK_LESTARI, serial=9, kawin="KAWIN")
    await import_residents(db, write_population(tmp_path / "b.csv", [bride]), now=NOW)
    status = await check(db, bride.nik, bride.kk)
    assert status is not None
    assert status.situation == "unrecorded"


def _shape(sql: str) -> str:
    """A statement without its values (numbers, text, the lookup hashes' blobs): which
    statements run, in which order, is what could be timed or told apart."""
    sql = re.sub(r"[xX]'[0-9a-fA-F]*'", "?", sql)
    sql = re.sub(r"'[^']*'", "?", sql)
    return re.sub(r"\b\d+(\.\d+)?\b", "?", sql)


@pytest.mark.parametrize("burst", [False, True], ids=["normal", "during_a_burst"])
async def test_unknown_nik_and_wrong_kk_do_the_same_work(loaded, burst):
    """Same answer and the same SQL, in the same order: nothing to time or tell apart. During
    a burst of failed checks (which slows every check) too."""
    known = PEOPLE["recorded"]
    limits = CheckLimits(burst_failures=3)
    now = NOW
    if burst:  # three failures from other accounts open a burst
        for user in (50, 51, 52):
            assert (
                await check_status(
                    loaded, user, known.nik, KK_LESTARI, limits=limits, now=now, today=TODAY
                )
                is None
            )
        for user in (7, 8):  # they asked at NOW; their turn comes a minute later
            await ensure_not_locked(loaded, user, limits, now=now)
        now += limits.burst_delay
    traces: dict[str, list[str]] = {}
    for case, user, nik, kk in (
        ("wrong_kk", 7, known.nik, KK_LESTARI),
        ("unknown_nik", 8, known.nik[:-4] + "0999", KK_SANTOSO),
    ):
        statements: list[str] = []

        def trace(sql: str, into: list[str] = statements) -> None:
            into.append(_shape(sql))

        await loaded.set_trace_callback(trace)
        status = await check_status(loaded, user, nik, kk, limits=limits, now=now, today=TODAY)
        await loaded.set_trace_callback(None)
        assert status is None
        traces[case] = statements
    assert traces["wrong_kk"] == traces["unknown_nik"]
    assert any("UPDATE check_bursts" in sql for sql in traces["wrong_kk"]) == burst


async def test_sixth_check_in_an_hour_is_refused_until_the_first_expires(loaded):
    known = PEOPLE["recorded"]
    for minute in range(5):
        assert (
            await check(loaded, known.nik, KK_LESTARI, now=NOW + timedelta(minutes=minute)) is None
        )
    with pytest.raises(CheckLocked) as refused:
        await check(loaded, known.nik, known.kk, now=NOW + timedelta(minutes=10))
    assert refused.value.context["until"] == NOW + timedelta(hours=1)
    status = await check(loaded, known.nik, known.kk, now=NOW + timedelta(hours=1, seconds=1))
    assert status is not None


async def test_successful_checks_do_not_count_towards_the_lockout(loaded):
    known = PEOPLE["recorded"]
    for _ in range(8):
        assert await check(loaded, known.nik, known.kk) is not None


async def test_format_errors_are_reported_before_any_lookup(loaded):
    with pytest.raises(InvalidNik) as bad:
        await check(loaded, "123", KK_SANTOSO)
    assert bad.value.reason == "length"
    with pytest.raises(InvalidNik) as bad_kk:
        await check(loaded, PEOPLE["recorded"].nik, "12ab")
    assert bad_kk.value.reason == "kk_not_digits"


@pytest.mark.parametrize("case", ["right", "wrong_kk", "unknown_nik"])
async def test_a_check_takes_five_trips_to_the_database_thread(loaded, monkeypatch, case):
    """Each aiosqlite call is a round trip to its thread: the lockout, the resident and the
    attempt's transaction (begin, insert, commit) take one each, the same for every answer."""
    trips = []
    connection_class = type(loaded)  # the bot's InlineConnection overrides aiosqlite's _execute
    real = connection_class._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(fn)
        return await real(self, fn, *args, **kwargs)

    person = PEOPLE["recorded"]
    nik = make_nik("350510", person.born, person.sex, 999) if case == "unknown_nik" else person.nik
    monkeypatch.setattr(connection_class, "_execute", counted)
    status = await check(loaded, nik, KK_LESTARI if case == "wrong_kk" else KK_SANTOSO)
    assert (status is not None) == (case == "right")
    assert len(trips) == 5
