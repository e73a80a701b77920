"""The birth-date predicates over the sealed birth date (bot/storage/residents.py): the year in
clear selects, the sealed date decides within the year; they agree with plain date comparison
on every side of every boundary. SQLite decides in SQL (`born`); both engines can select by the
year (`born_years`) and decide the boundary years' rows in Python (`born_on`)."""

from __future__ import annotations

import operator
from datetime import date, timedelta

import pytest

from bot.db import vault_of
from bot.nik import make_nik
from bot.services.importer import import_residents
from bot.storage.residents import (
    born,
    born_between,
    born_on,
    born_years,
    born_years_between,
    open_sealed,
)
from tests.conftest import NOW, Person, write_population

BIRTHS = [
    date(2008, 12, 30),
    date(2008, 12, 31),
    date(2009, 1, 1),
    date(2009, 1, 2),
    date(2009, 6, 15),
    date(2009, 12, 31),
    date(2010, 1, 1),
    date(2012, 2, 29),
]
DAYS = [b + timedelta(days=d) for b in BIRTHS for d in (-1, 0, 1)] + [date(1990, 5, 5)]
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


async def _import_births(db, tmp_path):
    people = [
        Person(
            nik=make_nik("350510", b, "L", n + 1),
            kk="3505100101080001",
            nama=f"Warga {n}",
            born=b,
            sex="L",
            kawin="BELUM KAWIN",
            desa="35.05.10.2001",
            rekam="",
            status="AKTIF",
        )
        for n, b in enumerate(BIRTHS)
    ]
    report = await import_residents(db, write_population(tmp_path / "p.csv", people), now=NOW)
    assert report.rejected == []
    return db


@pytest.fixture
async def births(db, tmp_path):
    return await _import_births(db, tmp_path)


@pytest.fixture
async def engine_births(engine_areas, tmp_path):
    return await _import_births(engine_areas, tmp_path)


async def _opened_births(db, where, params):
    """The birth dates of the residents `where` selects, opened in Python."""
    vault = vault_of(db)
    rows = await db.execute_fetchall(
        f"SELECT r.lahir_sealed, r.nik_ref FROM residents r WHERE {where}", params
    )
    return [date.fromisoformat(open_sealed(vault, "lahir_sealed", b, ref)) for b, ref in rows]


@pytest.mark.parametrize("op", OPS)
async def test_born_compares_like_the_dates(births, op):
    for day in DAYS:
        rows = await births.execute_fetchall(
            f"SELECT count(*) FROM residents r WHERE {born(op, 'day')}", {"day": day.isoformat()}
        )
        assert rows[0][0] == sum(OPS[op](b, day) for b in BIRTHS), (op, day)


async def test_born_between_is_inclusive_across_years(births):
    for first in DAYS:
        for last in DAYS:
            rows = await births.execute_fetchall(
                f"SELECT count(*) FROM residents r WHERE {born_between('first', 'last')}",
                {"first": first.isoformat(), "last": last.isoformat()},
            )
            assert rows[0][0] == sum(first <= b <= last for b in BIRTHS), (first, last)


@pytest.mark.parametrize("op", OPS)
async def test_born_years_then_born_on_compare_like_the_dates(engine_births, op):
    for day in DAYS:
        births = await _opened_births(
            engine_births, born_years(op, "day"), {"day": day.isoformat()}
        )
        assert len(births) == sum(OPS[op](b.year, day.year) or b.year == day.year for b in BIRTHS)
        kept = [b for b in births if born_on(b, op, day)]
        assert sorted(kept) == sorted(b for b in BIRTHS if OPS[op](b, day)), (op, day)


async def test_born_years_between_then_born_on_is_inclusive_across_years(engine_births):
    for first in DAYS:
        for last in DAYS:
            births = await _opened_births(
                engine_births,
                born_years_between("first", "last"),
                {"first": first.isoformat(), "last": last.isoformat()},
            )
            kept = [b for b in births if born_on(b, ">=", first) and born_on(b, "<=", last)]
            assert sorted(kept) == sorted(b for b in BIRTHS if first <= b <= last), (first, last)
