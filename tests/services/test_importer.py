import gc
import re
from datetime import UTC, date, datetime

import pytest

from bot.db import vault_of
from bot.engine import is_postgresql
from bot.errors import FileRefused
from bot.nik import make_nik
from bot.services import importer
from bot.services.importer import CSV_HEADER, ImportReport, import_residents
from bot.storage import recordings
from bot.storage import residents as store
from bot.storage.addresses import open_alamat
from bot.storage.residents import count_residents, get_resident, list_household, open_sealed

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
LATER = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)
HEADER = ",".join(CSV_HEADER)
KK = "3505100101100001"
FATHER = make_nik("350510", date(1980, 3, 4), "L", 1)
MOTHER = make_nik("350510", date(1982, 5, 6), "P", 1)
CHILD = make_nik("350510", date(2009, 2, 3), "L", 1)


def row(nik=FATHER, **changes) -> str:
    """A valid CSV line for `nik`, with some fields changed."""
    fields = {
        "nik": nik,
        "no_kk": KK,
        "nama": "BUDI SANTOSO",
        "tanggal_lahir": "1980-03-04",
        "jenis_kelamin": "L",
        "status_kawin": "KAWIN",
        "kode_desa": "3505102001",
        "tanggal_rekam": "2012-05-01",
        "status_nik": "AKTIF",
    }
    fields.update(changes)
    return ",".join(fields[name] for name in CSV_HEADER)


FAMILY = [
    row(),
    row(MOTHER, nama="SITI RAHAYU", tanggal_lahir="1982-05-06", jenis_kelamin="P"),
    row(
        CHILD,
        nama="DIMAS",
        tanggal_lahir="2009-02-03",
        status_kawin="BELUM KAWIN",
        tanggal_rekam="",
        kode_desa="35.05.10.2001",
    ),
]


@pytest.fixture
def csv_file(tmp_path):
    """Write lines (header first unless given) to a file and return its path."""

    def write(*lines: str, header: str | None = HEADER, raw: bytes | None = None):
        path = tmp_path / "export.csv"
        if raw is not None:
            path.write_bytes(raw)
        else:
            text = "\n".join(([header] if header is not None else []) + list(lines)) + "\n"
            path.write_text(text, encoding="utf-8")
        return path

    return write


async def snapshot(db):
    async with db.execute("SELECT * FROM residents ORDER BY nik_ref") as cursor:
        return await cursor.fetchall()


def test_summary_format():
    report = ImportReport(99_990, 0, [(n, "bad") for n in range(10)], [(2, "w")] * 3)
    assert (
        report.summary() == "inserted 99,990 \u00b7 updated 0 \u00b7 rejected 10 \u00b7 warnings 3"
    )


async def test_happy_path_and_upsert_on_reimport(engine_areas, csv_file):
    db = engine_areas
    report = await import_residents(db, csv_file(*FAMILY), now=NOW)
    assert (report.inserted, report.updated, report.rejected, report.warnings) == (3, 0, [], [])
    child = await get_resident(db, CHILD)
    assert child is not None
    assert child.tanggal_lahir == date(2009, 2, 3)
    assert child.tanggal_rekam is None
    assert child.kode_desa == "3505102001"  # dotted code stored plain
    assert [r.nik for r in await list_household(db, KK)] == [FATHER, MOTHER, CHILD]

    grandma = make_nik("350510", date(1950, 1, 1), "P", 1)
    newcomer = row(grandma, nama="SUMIATI", tanggal_lahir="1950-01-01", jenis_kelamin="P")
    changed = [*FAMILY[:2], FAMILY[2].replace("DIMAS", "DIMAS PRATAMA"), newcomer]
    report = await import_residents(db, csv_file(*changed), now=LATER)
    assert (report.inserted, report.updated) == (1, 3)
    assert await count_residents(db) == 4
    child = await get_resident(db, CHILD)
    assert child is not None
    assert child.nama == "DIMAS PRATAMA"
    rows = await db.execute_fetchall("SELECT nik_sealed, nik_ref, updated_at FROM residents")
    vault = vault_of(db)
    stamps = {open_sealed(vault, "nik_sealed", nik, ref): at for nik, ref, at in rows}
    assert stamps[CHILD] == LATER.isoformat()
    assert stamps[FATHER] == NOW.isoformat()  # unchanged rows are not rewritten


async def test_bom_crlf_and_spaces_in_header_are_tolerated(db, csv_file):
    header = " nik , no_kk," + HEADER.removeprefix("nik,no_kk,").replace(",", " ,\t")
    text = "\ufeff" + "\r\n".join([header, *FAMILY]) + "\r\n"
    report = await import_residents(db, csv_file(raw=text.encode()), now=NOW)
    assert (report.inserted, report.rejected) == (3, [])


async def test_values_are_tidied(db, csv_file):
    line = row(
        nama="  budi   santoso ", jenis_kelamin="l", status_kawin="kawin", status_nik="aktif"
    )
    report = await import_residents(db, csv_file(line), now=NOW)
    assert report.rejected == []
    resident = await get_resident(db, FATHER)
    assert resident is not None
    assert (resident.nama, resident.jenis_kelamin, resident.status_kawin) == (
        "budi santoso",
        "L",
        "KAWIN",
    )


BAD_ROWS = [
    (row() + ",extra", "expected 9 columns, got 10"),
    (row(nik=FATHER[:15]), "NIK must be 16 digits, got 15"),
    (row(nik=FATHER + "1"), "NIK must be 16 digits, got 17"),
    (row(nik="35051O0304800001"), "NIK must contain only digits"),
    (row(nik="3505103504800001"), "NIK birth day 35 is impossible"),
    (row(nik="3505100313800001"), "NIK birth month 13 is impossible"),
    (row(nik="3505103002800001"), "birth date that does not exist"),
    (row(nik="3505100403800000"), "serial 0000"),
    (row(nik="9905100403800001"), "not an Indonesian province"),
    (row(nik="3505300403800001"), "not a kecamatan of Kabupaten Blitar"),
    (row(no_kk="350510010110000"), "no_kk must be 16 digits, got 15"),
    (row(no_kk="35051001011O0001"), "no_kk must contain only digits"),
    (row(nama="  "), "nama is empty"),
    (row(nama="A" * 101), "nama is longer than 100 characters"),
    (row(tanggal_lahir="04-03-1980"), "tanggal_lahir '04-03-1980' is not a date"),
    (row(tanggal_lahir="1980-02-30"), "tanggal_lahir '1980-02-30' is not a date"),
    (row(tanggal_lahir="2026-06-16"), "tanggal_lahir 2026-06-16 is in the future"),
    (row(jenis_kelamin="X"), "jenis_kelamin 'X' is not one of L, P"),
    (row(status_kawin="NIKAH"), "status_kawin 'NIKAH' is not one of"),
    (row(kode_desa="3505992001"), "kode_desa '3505992001' is not a desa/kelurahan"),
    (row(kode_desa="35.05.10"), "is not a desa/kelurahan"),  # a kecamatan
    (row(kode_desa=""), "is not a desa/kelurahan"),
    (row(tanggal_rekam="1979-01-01"), "tanggal_rekam 1979-01-01 is before tanggal_lahir"),
    (row(tanggal_rekam="2027-01-01"), "tanggal_rekam 2027-01-01 is in the future"),
    (row(tanggal_rekam="kemarin"), "tanggal_rekam 'kemarin' is not a date"),
    (row(status_nik="MATI"), "status_nik 'MATI' is not one of AKTIF, NONAKTIF"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_ROWS)
async def test_bad_row_is_reported_with_its_line_and_skipped(db, csv_file, line, reason):
    report = await import_residents(db, csv_file(FAMILY[1], line, FAMILY[2]), now=NOW)
    assert [n for n, _ in report.rejected] == [3]
    assert reason in report.rejected[0][1]
    assert (report.inserted, await count_residents(db)) == (2, 2)


async def test_duplicate_nik_keeps_the_first(db, csv_file):
    again = row(nama="BUDI LAGI")
    report = await import_residents(db, csv_file(*FAMILY, again), now=NOW)
    assert report.rejected == [(5, "duplicate NIK, first seen on line 2")]
    resident = await get_resident(db, FATHER)
    assert resident is not None
    assert resident.nama == "BUDI SANTOSO"


async def test_duplicate_of_a_rejected_row_is_imported(db, csv_file):
    report = await import_residents(db, csv_file(row(jenis_kelamin="X"), row()), now=NOW)
    assert [n for n, _ in report.rejected] == [2]
    assert report.inserted == 1


async def test_line_numbers_count_blank_lines_and_multiline_fields(db, csv_file):
    multiline = row(MOTHER, nama='"SITI\nRAHAYU"', tanggal_lahir="1982-05-06", jenis_kelamin="P")
    path = csv_file(FAMILY[0], "", multiline, row(CHILD, jenis_kelamin="X"), "", "  ")
    report = await import_residents(db, path, now=NOW)
    # header 1, father 2, blank 3, mother 4-5, child 6
    assert [n for n, _ in report.rejected] == [6]
    assert report.inserted == 2


async def test_reasons_never_contain_a_full_number(db, csv_file):
    lines = [
        row(kode_desa=FATHER),
        row(MOTHER, tanggal_lahir=MOTHER),
        row(CHILD, status_nik=f"{CHILD[:4]} {CHILD[4:8]} {CHILD[8:12]} {CHILD[12:]}"),
    ]
    report = await import_residents(db, csv_file(*lines), now=NOW)
    assert len(report.rejected) == 3
    for _, reason in report.rejected:
        assert not re.search(r"\d{11,}", reason.replace(" ", "")), reason
    assert "3505********" in report.rejected[0][1]


async def test_nik_disagreeing_with_the_record_is_a_warning(db, csv_file):
    corrected = row(tanggal_lahir="1980-03-05")  # NIK says 4 March
    wrong_sex = row(MOTHER, nama="SITI", tanggal_lahir="1982-05-06", jenis_kelamin="L")
    report = await import_residents(db, csv_file(corrected, wrong_sex), now=NOW)
    assert (report.inserted, report.rejected) == (2, [])
    assert [n for n, _ in report.warnings] == [2, 3]
    assert "birth date" in report.warnings[0][1]
    assert "sex" in report.warnings[1][1]
    assert FATHER not in report.warnings[0][1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"a,b,c\n1,2,3\n", "expected header nik,no_kk"),
        (HEADER.replace(",", ";").encode() + b"\n", "separated by ';'"),
        (HEADER.replace("nama", "name").encode() + b"\n", "got 'nik,no_kk,name"),
        ((FAMILY[0] + "\n").encode(), "looks like data"),
        (bytes(range(256)) * 40, "binary"),
        (b"PK\x03\x04" + b"\x00" * 100, "Excel"),
        (HEADER.encode("utf-16"), "UTF-16"),
        ((HEADER + "\n" + FAMILY[0] + "\n").encode() + "JOSÉ\n".encode("latin-1"), "line 3"),
        (b"\xff\xd8\xff\xe0 JFIF garbage \xc3\x28", "not UTF-8"),
    ],
)
async def test_refused_files_change_nothing(db, csv_file, content, message):
    await import_residents(db, csv_file(FAMILY[1]), now=NOW)
    before = await snapshot(db)
    with pytest.raises(FileRefused, match=re.escape(message)):
        await import_residents(db, csv_file(raw=content), now=LATER)
    assert await snapshot(db) == before


async def test_refused_header_never_echoes_a_number(db, csv_file):
    with pytest.raises(FileRefused) as caught:
        await import_residents(db, csv_file(header=f"nik,{KK},nama"), now=NOW)
    assert KK not in str(caught.value)


async def test_missing_file_is_refused(db, tmp_path):
    with pytest.raises(FileRefused, match="cannot read"):
        await import_residents(db, tmp_path / "nope.csv", now=NOW)


async def test_crash_midway_leaves_the_database_as_it_was(engine_areas, csv_file, monkeypatch):
    db = engine_areas
    await import_residents(db, csv_file(row(nama="OLD NAME")), now=NOW)
    before = await snapshot(db)
    real_upsert, calls = store.upsert_residents, []

    async def failing_upsert(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return await real_upsert(*args, **kwargs)

    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    monkeypatch.setattr(store, "upsert_residents", failing_upsert)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await import_residents(db, csv_file(*FAMILY, FAMILY[0].replace("BUDI", "X")), now=LATER)
    assert len(calls) == 2
    assert await snapshot(db) == before
    assert not db.in_transaction
    monkeypatch.undo()
    report = await import_residents(db, csv_file(*FAMILY), now=LATER)  # the connection still works
    assert (report.inserted, report.updated) == (2, 1)


async def test_the_collector_pauses_for_the_rows_and_resumes_after(db, csv_file, monkeypatch):
    """No cyclic garbage collection while the rows go through (a tenth of the CPU of a large
    import); enabled again after, also when the import fails."""
    real_upsert, seen = store.upsert_residents, []

    async def watched_upsert(*args, **kwargs):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("disk on fire")
        return await real_upsert(*args, **kwargs)

    monkeypatch.setattr(store, "upsert_residents", watched_upsert)
    await import_residents(db, csv_file(*FAMILY), now=NOW)
    assert (seen, gc.isenabled()) == ([False], True)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await import_residents(db, csv_file(*FAMILY), now=NOW)
    assert (seen, gc.isenabled()) == ([False, False], True)


async def test_page_cache_is_restored(db, csv_file):
    async with db.execute("PRAGMA cache_size") as cursor:
        before = await cursor.fetchone()
    await import_residents(db, csv_file(*FAMILY), now=NOW)
    async with db.execute("PRAGMA cache_size") as cursor:
        assert await cursor.fetchone() == before


async def test_today_is_the_date_in_wib(db, csv_file):
    # 20:00 UTC on 15 June is already 16 June in Blitar.
    born_today = make_nik("350510", date(2026, 6, 16), "P", 1)
    line = row(born_today, tanggal_lahir="2026-06-16", jenis_kelamin="P", tanggal_rekam="")
    evening = datetime(2026, 6, 15, 20, 0, tzinfo=UTC)
    report = await import_residents(db, csv_file(line), now=evening)
    assert (report.inserted, report.rejected) == (1, [])


async def _index_definitions(db):
    """(name, definition) of every index on residents; None where no statement made it (the
    primary key's)."""
    if is_postgresql(db):
        query = (
            "SELECT indexname, CASE WHEN indexname LIKE '%pkey' THEN NULL ELSE indexdef END"
            " FROM pg_indexes WHERE tablename = 'residents' ORDER BY indexname"
        )
    else:
        query = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'residents'"
            " ORDER BY name"
        )
    return [tuple(row) for row in await db.execute_fetchall(query)]


async def test_a_fresh_import_builds_the_same_indexes_after_loading(
    engine_areas, csv_file, monkeypatch
):
    db = engine_areas
    before = await _index_definitions(db)
    assert len(before) >= 4
    dropped = []
    real_drop = store.drop_index

    async def spy(conn, name):
        dropped.append(name)
        await real_drop(conn, name)

    monkeypatch.setattr(store, "drop_index", spy)
    await import_residents(db, csv_file(*FAMILY), now=NOW)
    assert sorted(dropped) == sorted(name for name, sql in before if sql)  # built after loading
    assert await _index_definitions(db) == before
    dropped.clear()
    await import_residents(db, csv_file(*FAMILY), now=LATER)  # not empty: kept up to date
    assert dropped == []
    assert await _index_definitions(db) == before


async def test_a_failed_fresh_import_leaves_the_indexes(engine_areas, csv_file, monkeypatch):
    db = engine_areas
    before = await _index_definitions(db)

    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "upsert_residents", broken)
    with pytest.raises(RuntimeError):
        await import_residents(db, csv_file(*FAMILY), now=NOW)
    assert await _index_definitions(db) == before
    assert await count_residents(db) == 0


# --- the optional address columns (issue 19) ---

ADDRESS_HEADER = HEADER + ",alamat,rt,rw"


async def addresses(db):
    """NIK -> (alamat opened, rt, rw) of every stored address."""
    vault = vault_of(db)
    return {
        open_sealed(vault, "nik_sealed", nik, ref): (open_alamat(vault, alamat, ref), rt, rw)
        for nik, ref, alamat, rt, rw in await db.execute_fetchall(
            "SELECT r.nik_sealed, r.nik_ref, a.alamat_sealed, a.rt, a.rw"
            " FROM resident_addresses a JOIN residents r ON r.nik_ref = a.nik_ref"
        )
    }


async def test_twelve_columns_import_the_address_sealed(db, csv_file, tmp_path):
    path = csv_file(
        FAMILY[0] + ",Dusun Krajan Jl. Mawar 3,003,001",
        FAMILY[1] + ',"Dusun Krajan, Jl. Mawar 3",3,1',
        FAMILY[2] + ",,,",
        header=ADDRESS_HEADER,
    )
    report = await import_residents(db, path, now=NOW)
    assert (report.inserted, report.rejected) == (3, [])
    assert await addresses(db) == {
        FATHER: ("Dusun Krajan Jl. Mawar 3", "3", "1"),
        MOTHER: ("Dusun Krajan, Jl. Mawar 3", "3", "1"),
        CHILD: (None, None, None),
    }
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("test.sqlite3*"))
    assert b"Mawar" not in raw  # sealed like the names


async def test_a_nine_column_import_keeps_the_addresses(engine_areas, csv_file):
    db = engine_areas
    await import_residents(
        db, csv_file(FAMILY[0] + ",Jl. Mawar 3,3,1", header=ADDRESS_HEADER), now=NOW
    )
    report = await import_residents(db, csv_file(*FAMILY), now=LATER)
    assert (report.inserted, report.updated, report.rejected) == (2, 1, [])
    assert await addresses(db) == {FATHER: ("Jl. Mawar 3", "3", "1")}
    assert (await get_resident(db, FATHER)).nama == "BUDI SANTOSO"


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (",Jl. Mawar,3a,1", "rt '3a' is not a number"),
        (",Jl. Mawar,3,12345", "rw '12345' is not a number"),
        (",Jl. Mawar 3505100101100001,3,1", "alamat holds a long number"),
        (",Jl. Mawar,3", "expected 12 columns, got 11"),
    ],
)
async def test_a_bad_address_rejects_its_row(db, csv_file, extra, reason):
    path = csv_file(FAMILY[0] + extra, FAMILY[1] + ",Jl. Mawar,3,1", header=ADDRESS_HEADER)
    report = await import_residents(db, path, now=NOW)
    assert report.inserted == 1
    assert [(line, why[: len(reason)]) for line, why in report.rejected] == [(2, reason)]
    assert "3505100101100001" not in str(report.rejected)


async def test_a_header_with_part_of_the_address_is_refused(db, csv_file):
    with pytest.raises(FileRefused, match="expected header nik,no_kk"):
        await import_residents(
            db, csv_file(FAMILY[0] + ",Jl. Mawar", header=HEADER + ",alamat"), now=NOW
        )


async def test_a_recording_written_back_reactivates_the_nik(engine_areas, csv_file):
    db = engine_areas
    inactive = FAMILY[2].replace("AKTIF", "NONAKTIF")
    await import_residents(db, csv_file(FAMILY[0], inactive), now=NOW)
    assert (await get_resident(db, CHILD)).status_nik == "NONAKTIF"
    assert await recordings.mark_recorded(db, CHILD, date(2026, 6, 20), now=LATER)
    child = await get_resident(db, CHILD)
    assert (child.tanggal_rekam, child.status_nik) == (date(2026, 6, 20), "AKTIF")
    unknown = make_nik("350510", date(1990, 1, 1), "L", 9)
    assert not await recordings.mark_recorded(db, unknown, date(2026, 6, 20), now=LATER)
