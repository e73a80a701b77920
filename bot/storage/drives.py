"""Mobile recording drives: a `drives` row and the drive's own service point (migration 0024)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from bot.domain import Drive
from bot.engine import Connection
from bot.storage.service_points import POINT_COLUMNS, point_of_row

_POINT = ", ".join(f"sp.{name.strip()}" for name in POINT_COLUMNS.split(","))
_SELECT = (
    f"SELECT d.id, d.code, d.run_by, d.area_code, d.state, d.created_by, {_POINT}"
    " FROM drives d JOIN service_points sp ON sp.code = d.point_code"
)


async def insert_drive_point(
    db: Connection,
    *,
    code: str,
    name: str,
    address: str,
    kecamatan_code: str,
    latitude: float,
    longitude: float,
    pinned: bool,
    capacity: int,
    hours: str,
    day: date,
) -> None:
    """The drive's own point: recording only, confirmed at once, open on `day` only."""
    await db.execute(
        "INSERT INTO service_points (code, name, kind, kecamatan_code, address, latitude,"
        " longitude, slot_capacity, prints_cards, auto_confirm, hours, open_day, pinned)"
        " VALUES (?, ?, 'kecamatan', ?, ?, ?, ?, ?, 0, 1, ?, ?, ?)",
        (
            code,
            name,
            kecamatan_code,
            address,
            latitude,
            longitude,
            capacity,
            hours,
            day.isoformat(),
            int(pinned),
        ),
    )


async def insert_drive(
    db: Connection,
    *,
    code: str,
    point_code: str,
    run_by: str,
    area_code: str,
    created_by: int | None,
    now: datetime,
) -> int:
    """Link the drive's point to its area and its running point; return the drive's id."""
    at = _ts(now)
    rows = await db.execute_fetchall(
        "INSERT INTO drives (code, point_code, run_by, area_code, created_by, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (code, point_code, run_by, area_code, created_by, at, at),
    )
    return int(next(iter(rows))[0])


async def get_drive(db: Connection, drive_id: int) -> Drive | None:
    """The drive with this id, or None."""
    return await _one(db, f"{_SELECT} WHERE d.id = ?", (drive_id,))


async def get_drive_by_code(db: Connection, code: str) -> Drive | None:
    """The drive with this code (any case), or None."""
    return await _one(db, f"{_SELECT} WHERE d.code = ?", (code.strip().upper(),))


async def get_drive_by_point(db: Connection, point_code: str) -> Drive | None:
    """The drive whose own point this is (a booking's `service_point`), or None."""
    return await _one(db, f"{_SELECT} WHERE d.point_code = ?", (point_code,))


async def list_drives(
    db: Connection,
    first_day: date,
    last_day: date,
    *,
    areas: Sequence[str] | None = None,
    run_by: str | None = None,
    planned_only: bool = True,
) -> list[Drive]:
    """Drives on the days from `first_day` to `last_day`, by day and opening time; only those
    serving one of `areas` / run by `run_by` when given; cancelled ones too unless planned_only."""
    where = ["sp.open_day BETWEEN ? AND ?"]
    params: list[object] = [first_day.isoformat(), last_day.isoformat()]
    if areas is not None:
        where.append(f"d.area_code IN ({', '.join('?' for _ in areas) or 'NULL'})")
        params += list(areas)
    if run_by is not None:
        where.append("d.run_by = ?")
        params.append(run_by)
    if planned_only:
        where.append("d.state = 'planned'")
    query = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY sp.open_day, sp.hours, d.id"
    return [_drive(row) for row in await db.execute_fetchall(query, params)]


async def update_drive_point(
    db: Connection,
    point_code: str,
    *,
    name: str,
    address: str,
    latitude: float,
    longitude: float,
    pinned: bool,
    capacity: int,
    hours: str,
    day: date,
) -> None:
    """Overwrite the drive's place, day, hours and capacity."""
    await db.execute(
        "UPDATE service_points SET name = ?, address = ?, latitude = ?, longitude = ?,"
        " pinned = ?, slot_capacity = ?, hours = ?, open_day = ? WHERE code = ?",
        (
            name,
            address,
            latitude,
            longitude,
            int(pinned),
            capacity,
            hours,
            day.isoformat(),
            point_code,
        ),
    )


async def touch_drive(db: Connection, drive_id: int, *, now: datetime) -> None:
    """Record that the drive changed."""
    await db.execute("UPDATE drives SET updated_at = ? WHERE id = ?", (_ts(now), drive_id))


async def cancel_drive(db: Connection, drive_id: int, *, now: datetime) -> bool:
    """Mark a planned drive cancelled and close its point; False if it was not planned."""
    cursor = await db.execute(
        "UPDATE drives SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = 'planned'",
        (_ts(now), drive_id),
    )
    if cursor.rowcount != 1:
        return False
    await db.execute(
        "UPDATE service_points SET active = 0"
        " WHERE code = (SELECT point_code FROM drives WHERE id = ?)",
        (drive_id,),
    )
    return True


async def code_taken(db: Connection, code: str) -> bool:
    """Whether a drive (or a point) already has this code."""
    rows = await db.execute_fetchall(
        "SELECT 1 FROM drives WHERE code = ? UNION ALL SELECT 1 FROM service_points WHERE code = ?",
        (code, f"drv-{code.lower()}"),
    )
    return bool(list(rows))


async def running_point(db: Connection, point_code: str) -> str | None:
    """The code of the point whose staff run the drive at `point_code`; None for an ordinary
    point."""
    rows = list(
        await db.execute_fetchall("SELECT run_by FROM drives WHERE point_code = ?", (point_code,))
    )
    return rows[0][0] if rows else None


async def booking_states_per_desa(
    db: Connection, point_code: str, day: date
) -> dict[str, dict[str, int]]:
    """The bookings at a drive's point on its day, per resident's desa (plain code; '' for a
    resident no longer in the population copy) and state."""
    rows = await db.execute_fetchall(
        "SELECT coalesce(r.kode_desa, ''), b.state, count(*) FROM bookings b"
        " LEFT JOIN residents r ON r.nik_ref = b.nik_ref"
        " WHERE b.service_point = ? AND b.day = ? GROUP BY 1, 2",
        (point_code, day.isoformat()),
    )
    found: dict[str, dict[str, int]] = {}
    for desa, state, count in rows:
        found.setdefault(desa, {})[state] = int(count)
    return found


async def _one(db: Connection, query: str, params: Sequence[object]) -> Drive | None:
    rows = list(await db.execute_fetchall(query, params))
    return _drive(rows[0]) if rows else None


def _drive(row: Sequence[Any]) -> Drive:
    drive_id, code, run_by, area_code, state, created_by = row[:6]
    return Drive(drive_id, code, point_of_row(row[6:]), run_by, area_code, state, created_by)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
