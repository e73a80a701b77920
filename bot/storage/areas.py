"""Kemendagri regions (kecamatan, desa/kelurahan) of Kabupaten Blitar."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.domain import Area
from bot.engine import Connection

WILAYAH_CSV = Path(__file__).resolve().parent.parent / "data" / "wilayah_3505.csv"


def plain_code(code: str) -> str:
    """`35.05.08.2001` -> `3505082001`; a plain code is returned unchanged."""
    return code.strip().replace(".", "")


async def sync_areas(db: Connection, path: Path = WILAYAH_CSV) -> int:
    """Upsert the regions from the Kemendagri CSV; return how many rows were read."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [
            (plain_code(r["code"]), r["code"], r["level"], r["name"], plain_code(r["parent_code"]))
            for r in csv.DictReader(handle)
        ]
    await db.executemany(
        "INSERT INTO areas (code, dotted_code, level, name, parent_code) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,"
        " parent_code = excluded.parent_code, dotted_code = excluded.dotted_code",
        rows,
    )
    return len(rows)


async def get_area(db: Connection, code: str) -> Area | None:
    """The region with this code (dotted or plain), or None."""
    async with db.execute(
        "SELECT code, dotted_code, level, name, parent_code FROM areas WHERE code = ?",
        (plain_code(code),),
    ) as cursor:
        row = await cursor.fetchone()
    return Area(*row) if row else None


async def village_codes(db: Connection) -> set[str]:
    """Plain codes of every desa and kelurahan."""
    async with db.execute("SELECT code FROM areas WHERE level IN ('desa', 'kelurahan')") as cur:
        return {row[0] async for row in cur}


async def list_kecamatan(db: Connection) -> list[Area]:
    """All kecamatan, ordered by code."""
    async with db.execute(
        "SELECT code, dotted_code, level, name, parent_code FROM areas"
        " WHERE level = 'kecamatan' ORDER BY code"
    ) as cursor:
        return [Area(*row) async for row in cursor]


async def list_children(db: Connection, code: str) -> list[Area]:
    """The areas directly inside `code` (a kecamatan's desa, the regency's kecamatan), by code."""
    async with db.execute(
        "SELECT code, dotted_code, level, name, parent_code FROM areas"
        " WHERE parent_code = ? ORDER BY code",
        (plain_code(code),),
    ) as cursor:
        return [Area(*row) async for row in cursor]
