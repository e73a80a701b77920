"""Service points: the Kanigoro office, the TLAs and the kecamatan offices."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bot.domain import ServicePoint
from bot.engine import Connection

DEFAULTS_CSV = Path(__file__).resolve().parent.parent / "data" / "service_points.csv"

_SEED_COLUMNS = (
    "code, name, kind, kecamatan_code, address, latitude, longitude, slot_capacity, prints_cards"
)
POINT_COLUMNS = _SEED_COLUMNS + ", contact, hours, open_day, pinned"


async def seed_service_points(db: Connection, path: Path = DEFAULTS_CSV) -> None:
    """Insert the default service points that are missing; an admin's later edits are kept."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = [name.strip() for name in _SEED_COLUMNS.split(",")]
    await db.executemany(
        f"INSERT INTO service_points ({_SEED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (code) DO NOTHING",
        [tuple(row[name] for name in columns) for row in rows],
    )


async def seed_contacts(db: Connection, path: Path = DEFAULTS_CSV) -> None:
    """Fill the contact of each default service point that has none yet (migration 0018)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [(row["contact"], row["code"]) for row in csv.DictReader(handle)]
    await db.executemany(
        "UPDATE service_points SET contact = ? WHERE code = ? AND contact = ''", rows
    )


async def list_service_points(db: Connection) -> list[ServicePoint]:
    """Active service points: the office, then the TLAs, then kecamatan offices by name. A
    drive's point (open on one day only) is no ordinary point: see bot/storage/drives.py."""
    async with db.execute(
        f"SELECT {POINT_COLUMNS} FROM service_points WHERE active = 1 AND open_day IS NULL"
        " ORDER BY CASE kind WHEN 'office' THEN 0 WHEN 'tla' THEN 1 ELSE 2 END, name"
    ) as cursor:
        return [point_of_row(row) async for row in cursor]


async def get_service_point(db: Connection, code: str) -> ServicePoint | None:
    """The service point with this code, or None."""
    rows = list(
        await db.execute_fetchall(
            f"SELECT {POINT_COLUMNS} FROM service_points WHERE code = ?", (code,)
        )
    )
    return point_of_row(rows[0]) if rows else None


def point_of_row(row: Sequence[Any]) -> ServicePoint:
    """The ServicePoint of a row selected as POINT_COLUMNS (also read by storage/drives.py)."""
    code, name, kind, kecamatan, address, lat, lon, capacity, prints, contact, hours = row[:11]
    open_day, pinned = row[11:13]
    return ServicePoint(
        code,
        name,
        kind,
        kecamatan,
        address,
        lat,
        lon,
        capacity,
        bool(prints),
        hours,
        contact,
        date.fromisoformat(open_day) if open_day else None,
        bool(pinned),
    )


async def update_service_point(
    db: Connection,
    code: str,
    *,
    capacity: int | None,
    hours: str | None,
    prints_cards: bool | None,
    active: bool | None,
) -> None:
    """Change the given settings of one service point (None keeps a setting)."""
    await db.execute(
        "UPDATE service_points SET slot_capacity = coalesce(?, slot_capacity),"
        " hours = coalesce(?, hours), prints_cards = coalesce(?, prints_cards),"
        " active = coalesce(?, active) WHERE code = ?",
        (capacity, hours, _flag(prints_cards), _flag(active), code),
    )


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)
