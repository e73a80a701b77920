"""No old byte survives the encryption migration or a key rotation (issue 13, finding 2).

`secure_delete` zeroes what is deleted, but not the gaps a rewritten page leaves behind: values
in clear from before migration 0011, and values sealed with a rotated-out key, stayed in the
file (and in every backup copied from it). Thousands of residents over many pages; every byte
of the database, its WAL (as they lie on disk, the connection still open) and a backup made
afterwards is searched.
"""

from __future__ import annotations

import csv
import re
import shutil
from datetime import date
from pathlib import Path

import aiosqlite

from bot import db as dbmod
from bot.sample import write_sample
from bot.services import outbox
from bot.services.backup import backup
from bot.services.importer import import_residents
from bot.services.key_rotation import rotate_key
from bot.storage.areas import sync_areas
from bot.storage.outbox import get_message_by_key as outbox_message
from bot.storage.residents import count_residents, get_resident
from bot.storage.service_points import seed_service_points
from tests.conftest import NOW, SECRET_KEY

COUNT = 3_000
WINDOW = 16  # bytes of each old value searched for: a random 16 bytes never occur by chance
ISO_DATE = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EVERY_ISO_DATE = re.compile(rb"(?=(" + ISO_DATE.pattern + rb"))")  # at each offset: overlaps too


def _sample(path: Path) -> list[dict[str, str]]:
    write_sample(path, COUNT, seed=13, today=date(2026, 11, 24))
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def _on_disk(db: aiosqlite.Connection, path: Path, tmp_path: Path) -> dict[str, bytes]:
    """The database file and its WAL as they lie now, and a backup made now."""
    wal = path.with_name(path.name + "-wal")
    copy = tmp_path / "backup.sqlite3"
    await backup(db, copy)
    files = {"database": path, "wal": wal, "backup": copy}
    return {name: _read(file) for name, file in files.items()}


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def _dates_in(raw: bytes) -> set[bytes]:
    """Every YYYY-MM-DD in `raw`, wherever it starts: one pass instead of a search per date."""
    return {match.group(1) for match in EVERY_ISO_DATE.finditer(raw)}


def _found(raw: bytes, needles: set[bytes]) -> int:
    """How many windows of `raw` are one of the needles (all WINDOW bytes long)."""
    return sum(raw[at : at + WINDOW] in needles for at in range(len(raw) - WINDOW + 1))


async def test_no_clear_value_survives_the_encryption_migration(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = tmp_path / "old-migrations"
    old.mkdir()
    for migration in dbmod.migration_files():
        if migration.name < "0011":
            shutil.copy(migration, old / migration.name)
    people = _sample(tmp_path / "sample.csv")
    db = await dbmod.connect(path, SECRET_KEY)
    try:
        await dbmod.migrate(db, old)
        await sync_areas(db)
        await seed_service_points(db)
        await _store_in_clear(db, people)
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        needles = {p["nik"].encode() for p in people} | {p["no_kk"].encode() for p in people}
        names = {p["nama"].encode() for p in people if len(p["nama"]) >= 8}
        raw = path.read_bytes()
        assert sum(n in raw for n in needles) > 4_000  # in clear before, over many pages
        assert len(raw) > 200 * 4096

        assert "0011_encrypt_at_rest.sql" in await dbmod.migrate(db)
        assert await count_residents(db) == COUNT
        assert (await get_resident(db, people[7]["nik"])).nama == people[7]["nama"]
        files = await _on_disk(db, path, tmp_path)
    finally:
        await db.close()
    for name, content in files.items():
        digits = {content[at : at + 16] for at in range(len(content) - 15)}
        assert [n for n in needles if n in digits] == [], name
        assert [n for n in names if n in content] == [], name


async def _store_in_clear(db: aiosqlite.Connection, people: list[dict[str, str]]) -> None:
    """Residents as migrations 0001-0010 stored them, and rows naming them in other tables."""
    stamp = NOW.isoformat()
    await db.executemany(
        "INSERT INTO residents (nik, no_kk, nama, tanggal_lahir, jenis_kelamin, status_kawin,"
        " kode_desa, tanggal_rekam, status_nik, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, ''), ?, ?)",
        [(*p.values(), stamp) for p in people],
    )
    chats = [(chat, stamp) for chat in range(1, 501)]
    await db.executemany("INSERT INTO chats (chat_id, created_at) VALUES (?, ?)", chats)
    await db.executemany(
        "INSERT INTO links (chat_id, kind, subject, consent_at) VALUES (?, 'household', ?, ?)",
        [(chat, people[chat]["no_kk"], stamp) for chat, _ in chats],
    )
    await db.executemany(
        "INSERT INTO outbox (idempotency_key, chat_id, kind, text, not_before, created_at,"
        " updated_at) VALUES (?, ?, 'reminder', ?, ?, ?, ?)",
        [
            (f"k{chat}", chat, f"Halo {people[chat]['nama']}", stamp, stamp, stamp)
            for chat, _ in chats
        ],
    )


async def test_no_value_sealed_with_the_old_key_survives_a_rotation(db, tmp_path):
    path = tmp_path / "test.sqlite3"
    write_sample(tmp_path / "sample.csv", COUNT, seed=13, today=date(2026, 11, 24))
    await seed_service_points(db)
    assert (await import_residents(db, tmp_path / "sample.csv", now=NOW)).rejected == []
    for chat in range(1, 301):
        await outbox.enqueue(
            db, key=f"k{chat}", chat_id=chat, kind="reminder", text="Halo " * 40, now=NOW
        )
    old = await _sealed_and_hashed(db)
    assert len(old) > 3 * COUNT
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _found(path.read_bytes(), old) > 3 * COUNT  # the search finds them before

    await rotate_key(db, "a-new-secret-key-of-the-office-2027", now=NOW)
    new = await _sealed_and_hashed(db)
    assert not new & old
    for name, content in (await _on_disk(db, path, tmp_path)).items():
        assert _found(content, old) == 0, name
        if name != "wal":
            assert _found(content, new) > 3 * COUNT, name  # the new ones are there


async def _sealed_and_hashed(db: aiosqlite.Connection) -> set[bytes]:
    """The first WINDOW bytes of every sealed value and lookup hash in the database."""
    rows = await db.execute_fetchall(
        "SELECT nik_ref, kk_ref, nik_sealed, kk_sealed, nama_sealed FROM residents"
        " UNION ALL SELECT text, NULL, NULL, NULL, NULL FROM outbox"
    )
    return {bytes(value[:WINDOW]) for row in rows for value in row if value is not None}


async def test_migration_0015_seals_birth_dates_and_binds_every_value(tmp_path):
    """Residents and messages sealed by 0011 (bound to nothing), birth dates in clear: after
    0015 all of them open bound to their row, and neither the old sealed values nor an exact
    birth date are left in the file, its WAL or a backup (issue 13, findings 2, 3 and 16)."""
    path = tmp_path / "old.sqlite3"
    old = tmp_path / "old-migrations"
    old.mkdir()
    for migration in dbmod.migration_files():
        if migration.name < "0015":
            shutil.copy(migration, old / migration.name)
    people = _sample(tmp_path / "sample.csv")
    db = await dbmod.connect(path, SECRET_KEY)
    try:
        await dbmod.migrate(db, old)
        await sync_areas(db)
        await db.executemany(
            "INSERT INTO residents (nik_ref, kk_ref, nik_sealed, kk_sealed, nama_sealed,"
            " tanggal_lahir, jenis_kelamin, status_kawin, kode_desa, tanggal_rekam, status_nik,"
            " updated_at) VALUES (ref_of(:nik), ref_of(:no_kk), seal_v1(:nik), seal_v1(:no_kk),"
            " seal_v1(:nama), :tanggal_lahir, :jenis_kelamin, :status_kawin, :kode_desa,"
            " nullif(:tanggal_rekam, ''), :status_nik, :now)",
            [p | {"now": NOW.isoformat()} for p in people],
        )
        stamp = NOW.isoformat()
        await db.executemany(
            "INSERT INTO outbox (idempotency_key, chat_id, kind, text, not_before, created_at,"
            " updated_at) VALUES (?, ?, 'reminder', seal_v1(?), ?, ?, ?)",
            [(f"k{n}", n, f"Halo {p['nama']}", stamp, stamp, stamp) for n, p in enumerate(people)],
        )
        rows = await db.execute_fetchall(
            "SELECT nik_sealed, kk_sealed, nama_sealed FROM residents"
            " UNION ALL SELECT text, NULL, NULL FROM outbox"
        )
        v1 = {bytes(value[:WINDOW]) for row in rows for value in row if value is not None}
        clear = {
            value
            for row in await db.execute_fetchall(
                "SELECT tanggal_rekam, deactivated_on, updated_at FROM residents"
            )
            for value in row
        }
        births = {p["tanggal_lahir"].encode() for p in people if p["tanggal_lahir"] not in clear}
        assert all(ISO_DATE.fullmatch(b) for b in births)  # so _dates_in finds every one there
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert len(births & _dates_in(path.read_bytes())) > 2_000  # in clear before

        assert (await dbmod.migrate(db))[0] == "0015_seal_birth_dates.sql"
        for person in people[::97]:
            resident = await get_resident(db, person["nik"])
            assert (resident.nama, resident.no_kk) == (person["nama"], person["no_kk"])
            assert resident.tanggal_lahir.isoformat() == person["tanggal_lahir"]
        assert (await outbox_message(db, "k7")).text == f"Halo {people[7]['nama']}"
        files = await _on_disk(db, path, tmp_path)
    finally:
        await db.close()
    for name, content in files.items():
        assert _found(content, v1) == 0, name
        assert births & _dates_in(content) == set(), name
