from collections import Counter
from datetime import UTC, date, datetime
from itertools import islice

import pytest

from bot.db import transaction, vault_of
from bot.nik import parse_nik
from bot.sample import (
    age_pyramid,
    export_row,
    generate_part,
    generate_residents,
    sample_parts,
    write_sample,
)
from bot.services.importer import CSV_HEADER, import_residents
from bot.storage.residents import copy_residents, copy_text, count_residents, get_resident

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def people():
    return list(generate_residents(20_000, seed=42, today=TODAY))


def birth_year(person):
    return int(person["tanggal_lahir"][:4])


def test_same_seed_same_file_other_seed_other_file():
    first = list(generate_residents(500, seed=1, today=TODAY))
    assert first == list(generate_residents(500, seed=1, today=TODAY))
    assert first != list(generate_residents(500, seed=2, today=TODAY))


def test_exact_count_and_streaming():
    assert len(list(generate_residents(1, seed=1, today=TODAY))) == 1
    assert list(generate_residents(0, seed=1, today=TODAY)) == []
    huge = generate_residents(10**9, seed=1, today=TODAY)  # a generator: nothing built up front
    assert len(list(islice(huge, 3))) == 3


def test_file_has_the_siak_header(tmp_path):
    path = tmp_path / "sample.csv"
    write_sample(path, 50, seed=1, today=TODAY)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert len(lines) == 51


def test_pyramid_sums_to_one_and_young_cohorts_are_127_per_mille():
    shares = age_pyramid(TODAY)
    assert sum(shares) == pytest.approx(1)
    assert shares[17] == pytest.approx(0.0127, abs=0.0003)


def test_each_young_birth_year_cohort_is_about_127_percent(people):
    years = Counter(birth_year(p) for p in people)
    shares = [years[TODAY.year - age] / len(people) for age in range(1, 41)]
    assert all(0.0105 < share < 0.0150 for share in shares), shares
    assert sum(shares) / len(shares) == pytest.approx(0.0127, abs=0.0007)


def test_recording_shares(people):
    turned_17 = [
        p for p in people if birth_year(p) == TODAY.year - 17 and p["tanggal_lahir"][5:] <= "06-15"
    ]
    unrecorded = sum(not p["tanggal_rekam"] for p in turned_17) / len(turned_17)
    assert 0.8 < unrecorded < 0.97
    adults = [p for p in people if birth_year(p) <= TODAY.year - 18]
    recorded = sum(bool(p["tanggal_rekam"]) for p in adults) / len(adults)
    assert 0.95 < recorded < 0.99


def test_deactivated_are_a_few_unrecorded_adults(people):
    deactivated = [p for p in people if p["status_nik"] == "NONAKTIF"]
    assert 0.0007 < len(deactivated) / len(people) < 0.0025
    assert all(not p["tanggal_rekam"] and birth_year(p) <= TODAY.year - 18 for p in deactivated)


def test_children_are_never_recorded_unless_married(people):
    minors = [p for p in people if birth_year(p) >= TODAY.year - 16]
    assert all(not p["tanggal_rekam"] for p in minors if p["status_kawin"] == "BELUM KAWIN")
    assert all(p["status_kawin"] == "BELUM KAWIN" for p in minors if birth_year(p) > 2011)


def test_households_and_numbers(people):
    households = Counter(p["no_kk"] for p in people)
    assert set(households.values()) <= set(range(1, 7))
    assert len({p["nik"] for p in people}) == len(people)
    assert all(p["no_kk"][:6] == p["kode_desa"][:6] for p in people)
    local = sum(p["nik"][:6] == p["kode_desa"][:6] for p in people)
    assert local / len(people) > 0.95
    assert len({p["kode_desa"] for p in people}) == 248


def test_parents_are_old_enough(people):
    by_kk: dict[str, list[dict[str, str]]] = {}
    for person in people:
        by_kk.setdefault(person["no_kk"], []).append(person)
    for members in by_kk.values():
        mothers = [
            birth_year(p)
            for p in members
            if p["status_kawin"] == "KAWIN" and p["jenis_kelamin"] == "P"
        ]
        children = [birth_year(p) for p in members if p["status_kawin"] == "BELUM KAWIN"]
        if mothers and children:
            assert min(children) - mothers[0] >= 18
            assert max(children) - mothers[0] <= 42


def test_some_nik_birth_dates_differ_from_the_record(people):
    differ = sum(
        parse_nik(p["nik"], today=TODAY).birth_date.isoformat() != p["tanggal_lahir"]
        for p in people
    )
    assert 0.004 < differ / len(people) < 0.02


async def test_sample_imports_cleanly(db, tmp_path):
    path = tmp_path / "sample.csv"
    write_sample(path, 20_000, seed=42, today=TODAY)
    report = await import_residents(db, path, now=NOW)
    assert (report.inserted, report.rejected) == (20_000, [])
    assert 0 < len(report.warnings) < 400


PLANTED = {  # line number -> how to spoil it
    17: lambda f: f.update(nik=f["nik"][:15]),
    2_500: lambda f: f.update(nik=f["nik"][:6] + "35" + f["nik"][8:]),
    9_999: lambda f: f.update(no_kk="12345"),
    20_001: lambda f: f.update(nama=""),
    33_333: lambda f: f.update(tanggal_lahir="2030-01-01"),
    50_000: lambda f: f.update(jenis_kelamin="W"),
    61_234: lambda f: f.update(status_kawin="JOMBLO"),
    77_777: lambda f: f.update(kode_desa="3505992001"),
    88_888: lambda f: f.update(status_nik="HILANG"),
    100_001: lambda f: f.update(nik="DUPLICATE"),  # replaced below by line 2's NIK
}


async def test_large_file_with_planted_bad_rows(db, tmp_path):
    path = tmp_path / "big.csv"
    rows = generate_residents(100_000, seed=7, today=TODAY)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(CSV_HEADER) + "\n")
        first_nik = ""
        for line, fields in enumerate(rows, start=2):
            first_nik = first_nik or fields["nik"]
            if line in PLANTED:
                PLANTED[line](fields)
            if fields["nik"] == "DUPLICATE":
                fields["nik"] = first_nik
            out.write(",".join(fields[name] for name in CSV_HEADER) + "\n")
    report = await import_residents(db, path, now=NOW)
    assert [line for line, _ in report.rejected] == sorted(PLANTED)
    assert report.rejected[-1][1] == "duplicate NIK, first seen on line 2"
    assert report.inserted == await count_residents(db) == 100_000 - len(PLANTED)


# --- parts (the benchmarks' populations beyond a regency, generated in several processes) ---


def test_parts_add_up_to_the_count_with_distinct_numbers():
    parts = sample_parts(30_000, seed=3)
    people = [row for part in parts for row in generate_part(part, seed=3, today=TODAY)]
    assert len(people) == 30_000
    assert len({p["nik"] for p in people}) == 30_000
    assert [p["kode_desa"][:6] for p in people] == sorted(p["kode_desa"][:6] for p in people)
    movers = [p for p in people if p["nik"][:6] != p["kode_desa"][:6]]
    assert movers  # their serials come from each part's own range
    again = list(generate_part(parts[5], seed=3, today=TODAY))
    assert again == list(generate_part(parts[5], seed=3, today=TODAY))
    assert again != list(generate_part(parts[5], seed=4, today=TODAY))


@pytest.mark.parametrize("engine_db", ["postgresql"], indirect=True)
async def test_copied_parts_read_back_as_generated(engine_areas):
    vault = vault_of(engine_areas)
    people = list(generate_part(sample_parts(3_000, seed=8)[2], seed=8, today=TODAY))
    rows = [(*p.values(),) for p in people]
    rows = [(*row[:7], row[7] or None, row[8]) for row in rows]

    async def blocks():
        yield copy_text(vault, rows[:100], now=NOW)
        yield copy_text(vault, rows[100:], now=NOW)

    async with transaction(engine_areas):
        await copy_residents(engine_areas, blocks())
    assert await count_residents(engine_areas) == len(people)
    for person in people[::50]:
        stored = await get_resident(engine_areas, person["nik"])
        assert stored is not None
        assert export_row(stored) == list(person.values())
