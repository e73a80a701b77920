"""Residents: the population copy imported from SIAK."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import cast

import aiosqlite

from bot.domain import Resident, Sex

# nik, no_kk, nama, tanggal_lahir, jenis_kelamin, status_kawin, kode_desa (plain),
# tanggal_rekam (ISO or None), status_nik; dates as ISO text.
ResidentRow = tuple[str, str, str, str, str, str, str, str | None, str]

_COLUMNS = (
    "nik, no_kk, nama, tanggal_lahir, jenis_kelamin, status_kawin, kode_desa, tanggal_rekam,"
    " status_nik"
)
_FIELDS = _COLUMNS.replace(" ", "").split(",")[1:]  # everything but the NIK
_INSERT = f"INSERT INTO residents ({_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Rows whose data did not change are left alone (their updated_at too): re-importing an
# unchanged export rewrites nothing, and rewriting indexed columns is what makes updates slow.
_UPDATE = (
    f"UPDATE residents SET ({', '.join(_FIELDS)}, updated_at) = (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    f" WHERE nik = ? AND ({', '.join(_FIELDS)}) IS NOT (?, ?, ?, ?, ?, ?, ?, ?)"
)
# Well below SQLite's limit on host parameters (999 before 3.32).
_CHUNK = 900


async def get_resident(db: aiosqlite.Connection, nik: str) -> Resident | None:
    """The resident with this NIK, or None."""
    rows = list(
        await db.execute_fetchall(f"SELECT {_COLUMNS} FROM residents WHERE nik = ?", (nik,))
    )
    return _resident(rows[0]) if rows else None


async def list_household(db: aiosqlite.Connection, no_kk: str) -> list[Resident]:
    """Everyone on this KK, oldest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM residents WHERE no_kk = ? ORDER BY tanggal_lahir, nik", (no_kk,)
    ) as cursor:
        return [_resident(row) async for row in cursor]


async def existing_niks(db: aiosqlite.Connection, niks: list[str]) -> set[str]:
    """Which of these NIKs are already stored."""
    found: set[str] = set()
    for start in range(0, len(niks), _CHUNK):
        chunk = niks[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        async with db.execute(f"SELECT nik FROM residents WHERE nik IN ({marks})", chunk) as cur:
            found.update(row[0] for row in await cur.fetchall())
    return found


async def upsert_residents(
    db: aiosqlite.Connection, rows: Sequence[ResidentRow], *, now: datetime, fresh: bool = False
) -> int:
    """Insert new residents, overwrite the stored ones with the same NIK; return how many were new.

    Call it inside a transaction. The NIKs already stored are looked up first, because a plain
    INSERT plus an UPDATE is twice as fast in SQLite as INSERT ... ON CONFLICT DO UPDATE on this
    table (the upsert re-checks the kode_desa foreign key for every row).
    """
    rows = sorted(rows)  # in NIK order: neighbouring pages of the clustered NIK B-tree
    # `fresh`: the table was empty when the import began (and its NIKs are distinct), so nothing
    # can exist yet and the lookup is skipped.
    existing = set() if fresh else await existing_niks(db, [row[0] for row in rows])
    stamp = _utc(now).isoformat()
    await db.executemany(_INSERT, [(*row, stamp) for row in rows if row[0] not in existing])
    changes = [(*row[1:], stamp, row[0], *row[1:]) for row in rows if row[0] in existing]
    await db.executemany(_UPDATE, changes)
    return len(rows) - len(existing)


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
