"""200 concurrent booking attempts through the booking service on one shared connection
(the bot's own shape): bookings per second, and never over capacity. One line out.

Usage: .venv/bin/python benchmarks/booking_concurrency.py [ATTEMPTS]   (default 200)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bot import db as dbmod
from bot.domain import Booking
from bot.nik import make_nik
from bot.services.booking import book
from bot.services.points import update_point
from bot.services.schedule import free_slots
from bot.storage.areas import sync_areas
from bot.storage.residents import upsert_residents
from bot.storage.service_points import get_service_point, seed_service_points

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 08:00 WIB


async def measure(attempts: int, workdir: Path) -> str:
    """Book `attempts` different people at once into Wednesday's slots at Kanigoro."""
    conn = await dbmod.connect(workdir / "bench.sqlite3")
    await dbmod.migrate(conn)
    await sync_areas(conn)
    await seed_service_points(conn)
    await update_point(conn, "kanigoro", capacity=20, now=NOW)
    niks = await _residents(conn, attempts)
    point = await get_service_point(conn, "kanigoro")
    assert point is not None
    slots = [s.start_at for s in await free_slots(conn, point, date(2026, 11, 25), now=NOW)]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_try(conn, nik, n, slots[n % len(slots)]) for n, nik in enumerate(niks))
    )
    elapsed = time.perf_counter() - started
    booked = [r for r in results if isinstance(r, Booking)]
    async with conn.execute(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM bookings GROUP BY start_at)"
    ) as cursor:
        (fullest,) = await cursor.fetchone() or (0,)
    await conn.close()
    return (
        f"attempts={attempts} booked={len(booked)} seconds={elapsed:.2f} "
        f"bookings_per_s={len(booked) / elapsed:.0f} fullest_slot={fullest}/20"
    )


async def _try(conn: dbmod.aiosqlite.Connection, nik: str, n: int, start: datetime) -> object:
    try:
        return await book(
            conn, chat_id=50_000 + n, nik=nik, service="rekam", point_code="kanigoro",
            start_at=start, now=NOW,
        )  # fmt: skip
    except Exception as error:  # a full slot is an answer, not a failure
        return error


async def _residents(conn: dbmod.aiosqlite.Connection, count: int) -> list[str]:
    rows = []
    for n in range(count):
        born = date(1990, 1 + n % 12, 1 + n % 28)
        nik = make_nik("350510", born, "L", 1 + n)
        rows.append((nik, "3505100101900099", f"W{n}", born.isoformat(), "L", "KAWIN",
                     "3505102001", "2015-01-01", "AKTIF"))  # fmt: skip
    async with dbmod.transaction(conn):
        await upsert_residents(conn, rows, now=NOW)
    return [r[0] for r in rows]


def main() -> None:
    """Run the measurement in a temporary folder."""
    attempts = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as folder:
        print(asyncio.run(measure(attempts, Path(folder))))  # noqa: T201


if __name__ == "__main__":
    main()
