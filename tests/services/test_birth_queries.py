"""The birth-date predicates over the sealed birth date (bot/storage/residents.py): the year in
clear selects, the sealed date decides within the year; they agree with plain date comparison
on every side of every boundary."""

from __future__ import annotations

import operator
from datetime import date, timedelta

import pytest

from bot.nik import make_nik
from bot.services.importer import import_residents
from bot.storage.residents import born, born_between
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


@pytest.fixture
async def births(db, tmp_path):
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
