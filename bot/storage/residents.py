"""Residents: the population copy imported from SIAK."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any, cast

from bot.crypto import Vault
from bot.db import vault_of
from bot.domain import Resident, Sex
from bot.engine import Connection, is_postgresql
from bot.postgres import Statements

# nik, no_kk, nama, tanggal_lahir, jenis_kelamin, status_kawin, kode_desa (plain),
# tanggal_rekam (ISO or None), status_nik; dates as ISO text. In clear: this module seals them.
ResidentRow = tuple[str, str, str, str, str, str, str, str | None, str]

# A million-row import touches the NIK, KK, desa and birth-date B-trees all over; with SQLite's
# default 2 MiB page cache the writes take about twice as long (see `bot.db.large_cache`).
BULK_LOAD_CACHE_KIB = 256 * 1024

# NIK, KK number, name and birth date are stored sealed, NIK and KK also as lookup hashes
# (bot/crypto.py): rows are found by `nik_ref = ?` (the hash made in Python) and opened only when
# read. Each sealed value is bound to its column and to the row's nik_ref. Of the birth date only
# the year is in clear: with the exact date, sex and desa a NIK is one of a few candidates (issue
# 13). SQLite's connection has the vault as SQL functions (`opened`, `born`); PostgreSQL has
# none (the key never reaches the server): there the blob and nik_ref are selected and opened
# here (`open_sealed`), and birth dates filtered by their clear year in SQL (`born_years`), the
# boundary years' rows in Python after opening (`born_on`).
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
    """SQL (SQLite) for the sealed `column` of the residents row `alias`, in clear."""
    return f"unseal({alias}.{column}, 'residents.{column}', {alias}.nik_ref)"


def open_sealed(vault: Vault, column: str, blob: bytes, nik_ref: bytes) -> str:
    """The sealed `column` (`nik_sealed`, `kk_sealed`, `nama_sealed`, `lahir_sealed`) of the
    residents row `nik_ref`, in clear (both engines: the blob selected, opened in Python)."""
    return vault.open(bytes(blob), f"residents.{column}", bytes(nik_ref))


def born(op: str, day: str, alias: str = "r") -> str:
    """SQL (SQLite) comparing (`op`: <, <=, >, >=) the resident's birth date with the ISO date
    in the named parameter `:day`. Years compare in clear; the sealed date is opened only for
    those born in that date's year. A CASE, so it opens nothing more in a SELECT list either."""
    assert op in ("<", "<=", ">", ">=")
    year = _year(day)
    return (
        f"(CASE WHEN {alias}.tahun_lahir <> {year} THEN {alias}.tahun_lahir {op} {year}"
        f" ELSE {opened('lahir_sealed', alias)} {op} :{day} END)"
    )


def born_between(first: str, last: str, alias: str = "r") -> str:
    """SQL (SQLite): born between the dates in `:first` and `:last` (inclusive); the years
    first, so a WHERE can use the index residents_birth."""
    return (
        f"({born_years_between(first, last, alias)}"
        f" AND {born('>=', first, alias)} AND {born('<=', last, alias)})"
    )


def born_years(op: str, day: str, alias: str = "r") -> str:
    """SQL (both engines): `born(op, day)` on the clear birth year alone, the boundary year
    included whatever `op`; its rows are decided after opening (`born_on`)."""
    assert op in ("<", "<=", ">", ">=")
    return f"{alias}.tahun_lahir {op[0]}= {_year(day)}"


def born_years_between(first: str, last: str, alias: str = "r") -> str:
    """SQL (both engines): born in the years of `:first` to `:last`, the boundary years whole
    (`born_on` decides their rows); uses the index residents_birth."""
    return f"{alias}.tahun_lahir BETWEEN {_year(first)} AND {_year(last)}"


def born_on(birth: date, op: str, day: date) -> bool:
    """Python's `born(op, day)`, for a birth date opened (`open_sealed` of `lahir_sealed`)."""
    return _COMPARE[op](birth, day)


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _year(day: str) -> str:
    return f"CAST(substr(:{day}, 1, 4) AS INTEGER)"


# What is read of a resident: SQLite opens the sealed columns in SQL (a little faster there:
# measured on /cek's lookup); PostgreSQL selects the blobs, opened in Python (`_resident`).
_OPENED = ", ".join(["r.nik_ref", *(opened(column) for column in _SEALED), *_CLEAR[1:]])
_BLOBS = ", ".join(["r.nik_ref", *(f"r.{column}" for column in _SEALED), *_CLEAR[1:]])
_STAGE_COLUMNS = ", ".join(["nik_ref", "kk_ref", *_SEALED, *_CLEAR, "updated_at"])
_INSERT = f"INSERT INTO residents ({_STAGE_COLUMNS}) VALUES ({', '.join('?' * (len(_CLEAR) + 7))})"
# Rows whose data did not change are left alone (their updated_at too): re-importing an
# unchanged export rewrites nothing, and rewriting indexed columns is what makes updates slow.
# Name and birth date are compared opened: a sealed form differs every time it is sealed.
_SET = (
    f"UPDATE residents AS r SET (kk_ref, {', '.join(_SEALED[1:])}, {', '.join(_CLEAR)},"
    f" updated_at) = ({', '.join('?' * (len(_CLEAR) + 5))}) WHERE nik_ref = ?"
)
_UPDATE = (
    f"{_SET} AND (kk_ref, {opened('nama_sealed')}, {opened('lahir_sealed')},"
    f" {', '.join(_CLEAR[1:])}) IS NOT ({', '.join('?' * (len(_CLEAR) + 2))})"
)
# PostgreSQL: the stored rows of a batch, opened and compared in Python before `_SET`.
_STORED = (
    f"SELECT nik_ref, kk_ref, nama_sealed, lahir_sealed, {', '.join(_CLEAR[1:])}"
    " FROM residents WHERE nik_ref = ANY(?)"
)
# Well below SQLite's limit on host parameters (999 before 3.32).
_CHUNK = 900
# A fresh import appends its rows here first (a plain rowid table: no B-tree to search), then
# moves them into `residents` in lookup-hash order at once. Batch by batch, rows keyed by a
# random-looking hash would land all over the clustered B-tree, one page miss per row.
_STAGED = "temp.residents_import"


def opened_nik(ref_column: str) -> str:
    """SQL (SQLite) for the NIK, in clear, of the resident whose lookup hash is in `ref_column`
    (a column of another table: bookings, waitlist, tickets and links point at residents by
    hash). On both engines: select `sealed_nik(ref_column)` and `ref_column`, then `open_nik`."""
    return f"(SELECT {opened('nik_sealed')} FROM residents r WHERE r.nik_ref = {ref_column})"


def sealed_nik(ref_column: str) -> str:
    """SQL (both engines): the sealed NIK of the resident whose lookup hash is in `ref_column`
    (NULL if none), for `open_nik`."""
    return f"(SELECT r.nik_sealed FROM residents r WHERE r.nik_ref = {ref_column})"


def open_nik(vault: Vault, blob: bytes | None, nik_ref: bytes) -> str | None:
    """The NIK `sealed_nik` selected, in clear (None where no resident has the hash)."""
    return None if blob is None else open_sealed(vault, "nik_sealed", blob, nik_ref)


async def get_resident(db: Connection, nik: str) -> Resident | None:
    """The resident with this NIK, or None."""
    vault = vault_of(db)
    query = f"SELECT {_read(db)} FROM residents r WHERE nik_ref = ?"
    rows = list(await db.execute_fetchall(query, (vault.ref(nik),)))
    return _resident(db, rows[0]) if rows else None


async def list_household(db: Connection, no_kk: str) -> list[Resident]:
    """Everyone on this KK, oldest first."""
    vault = vault_of(db)
    rows = await db.execute_fetchall(
        f"SELECT {_read(db)} FROM residents r WHERE kk_ref = ?", (vault.ref(no_kk),)
    )
    people = [_resident(db, row) for row in rows]
    return sorted(people, key=lambda person: (person.tanggal_lahir, person.nik))


async def existing_refs(db: Connection, refs: list[bytes]) -> set[bytes]:
    """Which of these NIK lookup hashes are already stored."""
    found: set[bytes] = set()
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT nik_ref FROM residents WHERE nik_ref IN ({marks})"
        found.update(bytes(row[0]) for row in await db.execute_fetchall(query, chunk))
    return found


async def upsert_residents(
    db: Connection, rows: Sequence[ResidentRow], *, now: datetime, fresh: bool = False
) -> int:
    """Insert new residents, overwrite the stored ones with the same NIK; return how many were new.

    Call it inside a transaction. The NIKs already stored are looked up first, because a plain
    INSERT plus an UPDATE is twice as fast in SQLite as INSERT ... ON CONFLICT DO UPDATE on this
    table (the upsert re-checks the kode_desa foreign key for every row).
    """
    stamp = _utc(now).isoformat()
    sealing = _Sealing(vault_of(db))
    if isinstance(db, Statements):
        return await _upsert_postgresql(db, rows, stamp, sealing, fresh=fresh)
    if fresh:
        # The table was empty when the import began (and its NIKs are distinct): nothing can
        # exist yet, so the rows are staged for `load_staged`.
        await db.execute(f"CREATE TABLE IF NOT EXISTS {_STAGED} ({_STAGE_COLUMNS})")
        await db.executemany(
            f"INSERT INTO {_STAGED} VALUES ({', '.join('?' * (len(_CLEAR) + 7))})",
            sealing.stored_rows(rows, stamp),
        )
        return len(rows)
    # In lookup-hash order: neighbouring pages of the clustered B-tree.
    keyed = sorted(sealing.keyed(rows), key=_first)
    existing = await existing_refs(db, [ref for ref, _, _ in keyed])
    await db.executemany(
        _INSERT,
        [
            sealing.stored(nik_ref, kk_ref, row, stamp)
            for nik_ref, kk_ref, row in keyed
            if nik_ref not in existing
        ],
    )
    await db.executemany(
        _UPDATE,
        [
            (kk_ref, *sealing.sealed(nik_ref, row), stamp, nik_ref, kk_ref, *row[2:])
            for nik_ref, kk_ref, row in keyed
            if nik_ref in existing
        ],
    )
    return len(rows) - len(existing)


async def _upsert_postgresql(
    db: Statements,
    rows: Sequence[ResidentRow],
    stamp: str,
    sealing: _Sealing,
    *,
    fresh: bool,
) -> int:
    """PostgreSQL: new rows go in by COPY (the heap is not ordered by key: nothing to stage);
    the stored ones are read, opened and compared here, and only the changed ones updated."""
    if fresh:
        await _copy(db, sealing.stored_rows(rows, stamp))
        return len(rows)
    keyed = sealing.keyed(rows)
    stored = await _stored_rows(db, [ref for ref, _, _ in keyed])
    await _copy(
        db, [sealing.stored(ref, kk, row, stamp) for ref, kk, row in keyed if ref not in stored]
    )
    await db.executemany(
        _SET,
        [
            (kk_ref, *sealing.sealed(nik_ref, row), stamp, nik_ref)
            for nik_ref, kk_ref, row in keyed
            if nik_ref in stored and stored[nik_ref] != (kk_ref, *row[2:])
        ],
    )
    return len(rows) - len(stored)


async def _stored_rows(db: Statements, refs: list[bytes]) -> dict[bytes, tuple[Any, ...]]:
    """The stored residents among `refs`, as (kk_ref, *the ResidentRow from the name on)."""
    vault = db.vault
    found = {}
    for ref, kk_ref, nama, lahir, *clear in await db.execute_fetchall(_STORED, (refs,)):
        nama = open_sealed(vault, "nama_sealed", nama, ref)
        lahir = open_sealed(vault, "lahir_sealed", lahir, ref)
        found[bytes(ref)] = (bytes(kk_ref), nama, lahir, *clear)
    return found


async def _copy(db: Statements, rows: list[tuple[object, ...]]) -> None:
    """PostgreSQL: insert residents rows (`_STAGE_COLUMNS`) with COPY, its fastest way in."""
    async with (
        db.lend() as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY residents ({_STAGE_COLUMNS}) FROM STDIN") as copy,
    ):
        for row in rows:
            await copy.write_row(row)


def copy_text(vault: Vault, rows: Iterable[ResidentRow], *, now: datetime) -> bytes:
    """New residents rows as stored (sealed here) in COPY's text format, for `copy_residents`;
    made where the rows are (the benchmarks seal a 13 M population in several processes)."""
    stamp, sealing = _utc(now).isoformat(), _Sealing(vault)
    lines = ["\t".join(map(_copy_field, values)) for values in sealing.stored_rows(rows, stamp)]
    return "".join(line + "\n" for line in lines).encode()


def _copy_field(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    return str(value).translate(_COPY_ESCAPES)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


async def copy_residents(db: Statements, blocks: AsyncIterator[bytes]) -> None:
    """PostgreSQL: append the rows of `copy_text` blocks to an empty table (inside the
    transaction of `bulk_load`, which rebuilds the indexes after)."""
    async with (
        db.lend() as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY residents ({_STAGE_COLUMNS}) FROM STDIN") as copy,
    ):
        async for block in blocks:
            await copy.write(block)


class _Sealing:
    """Residents rows as stored: their lookup hashes, and the four sealed columns each sealed
    by its `Vault.sealer`. One per batch: a KK number is hashed once per household (its members
    are listed together)."""

    def __init__(self, vault: Vault) -> None:
        self._ref = vault.ref
        self._nik, self._kk, self._nama, self._lahir = (
            vault.sealer(f"residents.{column}") for column in _SEALED
        )
        self._households: dict[str, bytes] = {}

    def keyed(self, rows: Iterable[ResidentRow]) -> list[tuple[bytes, bytes, ResidentRow]]:
        """(nik_ref, kk_ref, row) of each row."""
        return [(self._ref(row[0]), self._kk_ref(row[1]), row) for row in rows]

    def stored_rows(self, rows: Iterable[ResidentRow], stamp: str) -> list[tuple[object, ...]]:
        """The rows as stored (`_STAGE_COLUMNS`), in their order."""
        ref, kk_ref, stored = self._ref, self._kk_ref, self.stored
        return [stored(ref(row[0]), kk_ref(row[1]), row, stamp) for row in rows]

    def stored(
        self, nik_ref: bytes, kk_ref: bytes, row: ResidentRow, stamp: str
    ) -> tuple[object, ...]:
        """The row as stored (`_STAGE_COLUMNS`)."""
        return (nik_ref, kk_ref, self._nik(row[0], nik_ref), *self.sealed(nik_ref, row), stamp)

    def sealed(self, nik_ref: bytes, row: ResidentRow) -> tuple[object, ...]:
        """KK number, name and birth date sealed for this row, the birth year, the rest in
        clear."""
        lahir = row[3]
        return (
            self._kk(row[1], nik_ref),
            self._nama(row[2], nik_ref),
            self._lahir(lahir, nik_ref),
            int(lahir[:4]),
            *row[4:],
        )

    def _kk_ref(self, number: str) -> bytes:
        made = self._households.get(number)
        if made is None:
            made = self._households[number] = self._ref(number)
        return made


def _first(item: tuple[bytes, bytes, ResidentRow]) -> bytes:
    return item[0]


@asynccontextmanager
async def bulk_load(db: Connection) -> AsyncIterator[bool]:
    """Prepare the caller's transaction for loading many residents; yield `fresh`, whether the
    table was empty (then pass `fresh=True` to `upsert_residents`).

    Into an empty table, load first and build the secondary indexes after, from sorted data:
    much less work than keeping six B-trees up to date row by row. Same transaction, same
    statements as the migrations made them: a failed import leaves them as they were. (On
    PostgreSQL dropping an index locks the table until COMMIT: the table is empty anyway.)
    """
    fresh = await count_residents(db) == 0
    indexes = await secondary_indexes(db) if fresh else []
    for name, _sql in indexes:
        await drop_index(db, name)
    yield fresh
    if fresh and not is_postgresql(db):
        await load_staged(db)
    for _name, sql in indexes:
        await db.execute(sql)
    if fresh and is_postgresql(db):
        await db.execute("ANALYZE residents")  # the planner's figures, before autovacuum's


async def load_staged(db: Connection) -> None:
    """Move what a fresh import staged into `residents`, in lookup-hash order (SQLite sorts it
    with its external sorter): the clustered B-tree is written front to back."""
    await db.execute(
        f"INSERT INTO residents ({_STAGE_COLUMNS}) SELECT {_STAGE_COLUMNS} FROM {_STAGED}"
        " ORDER BY nik_ref"
    )
    await db.execute(f"DROP TABLE {_STAGED}")


async def secondary_indexes(db: Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of each index on residents that a migration made."""
    if is_postgresql(db):  # not the ones of the primary key or another constraint
        query = (
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = 'residents'"
            " AND schemaname = current_schema() AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY indexname"
        )
    else:
        query = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'residents' AND sql IS NOT NULL ORDER BY name"
        )
    return [(row[0], row[1]) for row in await db.execute_fetchall(query)]


async def drop_index(db: Connection, name: str) -> None:
    """Drop one of the residents' indexes (inside the import's transaction)."""
    await db.execute(f'DROP INDEX "{name}"')


async def count_residents(db: Connection) -> int:
    """How many residents are stored."""
    rows = list(await db.execute_fetchall("SELECT count(*) FROM residents"))
    return int(rows[0][0]) if rows else 0


def _read(db: Connection) -> str:
    return _BLOBS if is_postgresql(db) else _OPENED


def _resident(db: Connection, row: Sequence[Any]) -> Resident:
    """A resident from the columns of `_read(db)`."""
    ref, *sealed = row[:5]
    if is_postgresql(db):
        vault = vault_of(db)
        sealed = [open_sealed(vault, c, blob, ref) for c, blob in zip(_SEALED, sealed, strict=True)]
    nik, no_kk, nama, lahir = (cast(str, value) for value in sealed)
    jk, kawin, desa, rekam, status = (cast(str, v) for v in row[5:])
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
