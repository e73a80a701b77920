"""Residents: the population copy imported from SIAK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import cast

import aiosqlite

from bot.crypto import Vault
from bot.db import vault_of
from bot.domain import Resident, Sex

# nik, no_kk, nama, tanggal_lahir, jenis_kelamin, status_kawin, kode_desa (plain),
# tanggal_rekam (ISO or None), status_nik; dates as ISO text. In clear: this module seals them.
ResidentRow = tuple[str, str, str, str, str, str, str, str | None, str]

# A million-row import touches the NIK, KK, desa and birth-date B-trees all over; with SQLite's
# default 2 MiB page cache the writes take about twice as long (see `bot.db.large_cache`).
BULK_LOAD_CACHE_KIB = 256 * 1024

# NIK, KK number, name and birth date are stored sealed, NIK and KK also as lookup hashes
# (bot/crypto.py): rows are found by `nik_ref = ref_of(?)` and opened only when read. Each sealed
# value is bound to its column and to the row's nik_ref. Of the birth date only the year is in
# clear: with the exact date, sex and desa a NIK is one of a few candidates (issue 13).
_SEALED = ["nik_sealed", "kk_sealed", "nama_sealed", "lahir_sealed"]
_CLEAR = [
    "tahun_lahir",
    "jenis_kelamin",
    "status_kawin",
    "kode_desa",
    "tanggal_rekam",
    "status_nik",
]


def opened(column: str, alias: str = "r") -> str:
    """SQL for the sealed `column` of the residents row `alias`, in clear."""
    return f"unseal({alias}.{column}, 'residents.{column}', {alias}.nik_ref)"


def born(op: str, day: str, alias: str = "r") -> str:
    """SQL comparing (`op`: <, <=, >, >=) the resident's birth date with the ISO date in the
    named parameter `:day`. Years compare in clear; the sealed date is opened only for those
    born in that date's year. A CASE, so it opens nothing more in a SELECT list either."""
    assert op in ("<", "<=", ">", ">=")
    year = f"CAST(substr(:{day}, 1, 4) AS INTEGER)"
    return (
        f"(CASE WHEN {alias}.tahun_lahir <> {year} THEN {alias}.tahun_lahir {op} {year}"
        f" ELSE {opened('lahir_sealed', alias)} {op} :{day} END)"
    )


def born_between(first: str, last: str, alias: str = "r") -> str:
    """SQL: born between the dates in `:first` and `:last` (inclusive); the years first, so a
    WHERE can use the index residents_birth."""
    years = f"CAST(substr(:{first}, 1, 4) AS INTEGER) AND CAST(substr(:{last}, 1, 4) AS INTEGER)"
    return (
        f"({alias}.tahun_lahir BETWEEN {years}"
        f" AND {born('>=', first, alias)} AND {born('<=', last, alias)})"
    )


_COLUMNS = ", ".join([*(opened(column) for column in _SEALED), *_CLEAR[1:]])
_STAGE_COLUMNS = ", ".join(["nik_ref", "kk_ref", *_SEALED, *_CLEAR, "updated_at"])
_INSERT = f"INSERT INTO residents ({_STAGE_COLUMNS}) VALUES ({', '.join('?' * (len(_CLEAR) + 7))})"
# Rows whose data did not change are left alone (their updated_at too): re-importing an
# unchanged export rewrites nothing, and rewriting indexed columns is what makes updates slow.
# Name and birth date are compared opened: a sealed form differs every time it is sealed.
_UPDATE = (
    f"UPDATE residents AS r SET (kk_ref, {', '.join(_SEALED[1:])}, {', '.join(_CLEAR)},"
    f" updated_at) = ({', '.join('?' * (len(_CLEAR) + 5))}) WHERE nik_ref = ?"
    f" AND (kk_ref, {opened('nama_sealed')}, {opened('lahir_sealed')}, {', '.join(_CLEAR[1:])})"
    f" IS NOT ({', '.join('?' * (len(_CLEAR) + 2))})"
)
# Well below SQLite's limit on host parameters (999 before 3.32).
_CHUNK = 900
# A fresh import appends its rows here first (a plain rowid table: no B-tree to search), then
# moves them into `residents` in lookup-hash order at once. Batch by batch, rows keyed by a
# random-looking hash would land all over the clustered B-tree, one page miss per row.
_STAGED = "temp.residents_import"


def opened_nik(ref_column: str) -> str:
    """SQL for the NIK, in clear, of the resident whose lookup hash is in `ref_column` (a column
    of another table: bookings, waitlist, tickets and links point at residents by hash)."""
    return f"(SELECT {opened('nik_sealed')} FROM residents r WHERE r.nik_ref = {ref_column})"


async def get_resident(db: aiosqlite.Connection, nik: str) -> Resident | None:
    """The resident with this NIK, or None."""
    rows = list(
        await db.execute_fetchall(
            f"SELECT {_COLUMNS} FROM residents r WHERE nik_ref = ?", (vault_of(db).ref(nik),)
        )
    )
    return _resident(rows[0]) if rows else None


async def list_household(db: aiosqlite.Connection, no_kk: str) -> list[Resident]:
    """Everyone on this KK, oldest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM residents r WHERE kk_ref = ?",
        (vault_of(db).ref(no_kk),),
    ) as cursor:
        people = [_resident(row) async for row in cursor]
    return sorted(people, key=lambda person: (person.tanggal_lahir, person.nik))


async def existing_refs(db: aiosqlite.Connection, refs: list[bytes]) -> set[bytes]:
    """Which of these NIK lookup hashes are already stored."""
    found: set[bytes] = set()
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT nik_ref FROM residents WHERE nik_ref IN ({marks})"
        async with db.execute(query, chunk) as cursor:
            found.update(row[0] for row in await cursor.fetchall())
    return found


async def upsert_residents(
    db: aiosqlite.Connection, rows: Sequence[ResidentRow], *, now: datetime, fresh: bool = False
) -> int:
    """Insert new residents, overwrite the stored ones with the same NIK; return how many were new.

    Call it inside a transaction. The NIKs already stored are looked up first, because a plain
    INSERT plus an UPDATE is twice as fast in SQLite as INSERT ... ON CONFLICT DO UPDATE on this
    table (the upsert re-checks the kode_desa foreign key for every row).
    """
    vault = vault_of(db)
    stamp = _utc(now).isoformat()
    kk_refs = _HouseholdRefs(vault)
    if fresh:
        # The table was empty when the import began (and its NIKs are distinct): nothing can
        # exist yet, so the rows are staged for `load_staged`.
        await db.execute(f"CREATE TABLE IF NOT EXISTS {_STAGED} ({_STAGE_COLUMNS})")
        await db.executemany(
            f"INSERT INTO {_STAGED} VALUES ({', '.join('?' * (len(_CLEAR) + 7))})",
            [_stored(vault, vault.ref(row[0]), kk_refs.of(row[1]), row, stamp) for row in rows],
        )
        return len(rows)
    # In lookup-hash order: neighbouring pages of the clustered B-tree.
    keyed = sorted(((vault.ref(row[0]), kk_refs.of(row[1]), row) for row in rows), key=_first)
    existing = await existing_refs(db, [ref for ref, _, _ in keyed])
    await db.executemany(
        _INSERT,
        [
            _stored(vault, nik_ref, kk_ref, row, stamp)
            for nik_ref, kk_ref, row in keyed
            if nik_ref not in existing
        ],
    )
    await db.executemany(
        _UPDATE,
        [
            (kk_ref, *_sealed(vault, nik_ref, row), stamp, nik_ref, kk_ref, *row[2:])
            for nik_ref, kk_ref, row in keyed
            if nik_ref in existing
        ],
    )
    return len(rows) - len(existing)


def _stored(
    vault: Vault, nik_ref: bytes, kk_ref: bytes, row: ResidentRow, stamp: str
) -> tuple[object, ...]:
    """The row as stored (`_STAGE_COLUMNS`)."""
    nik = vault.seal(row[0], "residents.nik_sealed", nik_ref)
    return (nik_ref, kk_ref, nik, *_sealed(vault, nik_ref, row), stamp)


def _sealed(vault: Vault, nik_ref: bytes, row: ResidentRow) -> tuple[object, ...]:
    """KK number, name and birth date sealed for this row, the birth year, the rest in clear."""
    _, no_kk, nama, lahir, *clear = row
    seal = vault.seal
    return (
        seal(no_kk, "residents.kk_sealed", nik_ref),
        seal(nama, "residents.nama_sealed", nik_ref),
        seal(lahir, "residents.lahir_sealed", nik_ref),
        int(lahir[:4]),
        *clear,
    )


class _HouseholdRefs:
    """A KK number's lookup hash, made once per household in a batch (its members are listed
    together)."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self._made: dict[str, bytes] = {}

    def of(self, number: str) -> bytes:
        made = self._made.get(number)
        if made is None:
            made = self._made[number] = self._vault.ref(number)
        return made


def _first(item: tuple[bytes, bytes, ResidentRow]) -> bytes:
    return item[0]


@asynccontextmanager
async def bulk_load(db: aiosqlite.Connection) -> AsyncIterator[bool]:
    """Prepare the caller's transaction for loading many residents; yield `fresh`, whether the
    table was empty (then pass `fresh=True` to `upsert_residents`).

    Into an empty table, load first and build the secondary indexes after, from sorted data:
    much less work than keeping six B-trees up to date row by row. Same transaction, same
    statements as the migrations made them: a failed import leaves them as they were.
    """
    fresh = await count_residents(db) == 0
    indexes = await secondary_indexes(db) if fresh else []
    for name, _sql in indexes:
        await drop_index(db, name)
    yield fresh
    if fresh:
        await load_staged(db)
    for _name, sql in indexes:
        await db.execute(sql)


async def load_staged(db: aiosqlite.Connection) -> None:
    """Move what a fresh import staged into `residents`, in lookup-hash order (SQLite sorts it
    with its external sorter): the clustered B-tree is written front to back."""
    await db.execute(
        f"INSERT INTO residents ({_STAGE_COLUMNS}) SELECT {_STAGE_COLUMNS} FROM {_STAGED}"
        " ORDER BY nik_ref"
    )
    await db.execute(f"DROP TABLE {_STAGED}")


async def secondary_indexes(db: aiosqlite.Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of each index on residents that a migration made."""
    async with db.execute(
        "SELECT name, sql FROM sqlite_master"
        " WHERE type = 'index' AND tbl_name = 'residents' AND sql IS NOT NULL ORDER BY name"
    ) as cursor:
        return [(row[0], row[1]) async for row in cursor]


async def drop_index(db: aiosqlite.Connection, name: str) -> None:
    """Drop one of the residents' indexes (inside the import's transaction)."""
    await db.execute(f'DROP INDEX "{name}"')


async def count_residents(db: aiosqlite.Connection) -> int:
    """How many residents are stored."""
    async with db.execute("SELECT count(*) FROM residents") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def _resident(row: Sequence[str | None]) -> Resident:
    nik, no_kk, nama, lahir, jk, kawin, desa, rekam, status = (cast(str, v) for v in row)
    return Resident(
        nik=nik,
        no_kk=no_kk,
        nama=nama,
        tanggal_lahir=date.fromisoformat(lahir),
        jenis_kelamin=cast(Sex, jk),
        status_kawin=kawin,
        kode_desa=desa,
        tanggal_rekam=date.fromisoformat(rekam) if rekam else None,
        status_nik=status,
    )


def _utc(moment: datetime) -> datetime:
    """The instant in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
