"""The booking transaction under 200 concurrent attempts, on one shared connection (the bot's
own shape), in a database with the population: bookings per second, and never over capacity.

Each round books 200 different residents at once into one day's slots at Kanigoro (20 places a
slot, the attempts spread over the slots); the rounds take the next open days. The figure is
all bookings over the wall time of all rounds; the fullest slot must not exceed its capacity.
One line out.

Usage: .venv/bin/python benchmarks/booking_concurrency.py [--count 1300000] [--seed 1]
           [--attempts 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from population import SECRET_KEY, prepared_database, working_copy

from bot import db as dbmod
from bot.domain import Booking
from bot.services.booking import book
from bot.services.points import update_point
from bot.services.schedule import free_slots, open_days
from bot.storage.areas import sync_areas
from bot.storage.service_points import get_service_point, seed_service_points

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 08:00 WIB
CAPACITY = 20
TARGET = 300  # bookings per second


async def measure(count: int, seed: int, attempts: int, rounds: int, workdir: Path) -> str:
    """Book `rounds` x `attempts` residents, `attempts` at a time; summarize."""
    conn = await dbmod.connect(
        working_copy(await prepared_database(count, seed), workdir), SECRET_KEY
    )
    try:
        async with dbmod.transaction(conn):
            await sync_areas(conn)
            await seed_service_points(conn)
        await update_point(conn, "kanigoro", capacity=CAPACITY, now=NOW)
        niks = await _residents(conn, attempts * rounds, seed)
        point = await get_service_point(conn, "kanigoro")
        assert point is not None
        days = [d.day for d in await open_days(conn, point, now=NOW) if d.remaining >= attempts]
        if len(days) < rounds:
            raise SystemExit(f"only {len(days)} days with {attempts} places for {rounds} rounds")
        booked, elapsed = 0, 0.0
        for n, day in enumerate(days[:rounds]):
            slots = [s.start_at for s in await free_slots(conn, point, day, now=NOW)]
            people = niks[n * attempts : (n + 1) * attempts]
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    _try(conn, nik, n * attempts + k, slots[k % len(slots)])
                    for k, nik in enumerate(people)
                )
            )
            elapsed += time.perf_counter() - started
            booked += sum(1 for r in results if isinstance(r, Booking))
        fullest = await _fullest_slot(conn)
    finally:
        await conn.close()
    per_second = booked / elapsed
    ok = per_second >= TARGET and fullest <= CAPACITY and booked == attempts * rounds
    return (
        f"booking_concurrency: residents={count} attempts={attempts} rounds={rounds} "
        f"booked={booked} seconds={elapsed:.2f} bookings_per_s={per_second:.0f} "
        f"fullest_slot={fullest}/{CAPACITY} target=>={TARGET}/s,never_over_capacity "
        f"{'ok' if ok else 'MISSED'}"
    )


async def _try(conn: dbmod.aiosqlite.Connection, nik: str, n: int, start: datetime) -> object:
    try:
        return await book(
            conn,
            chat_id=50_000 + n,
            nik=nik,
            service="rekam",
            point_code="kanigoro",
            start_at=start,
            now=NOW,
        )
    except Exception as error:  # a refusal is an answer, not a failure: counted as not booked
        return error


async def _residents(conn: dbmod.aiosqlite.Connection, count: int, seed: int) -> list[str]:
    """`count` active residents of the population, spread over it."""
    rows = await conn.execute_fetchall(
        "SELECT unseal(nik_sealed, 'residents.nik_sealed', nik_ref) AS nik FROM residents"
        " WHERE status_nik = 'AKTIF'"
        " AND (CAST(substr(nik, 7) AS INTEGER) + ?) % 97 = 0 LIMIT ?",
        (seed, count),
    )
    niks = [str(nik) for (nik,) in rows]
    if len(niks) < count:
        raise SystemExit(f"the population has only {len(niks)} residents to book")
    return niks


async def _fullest_slot(conn: dbmod.aiosqlite.Connection) -> int:
    rows = await conn.execute_fetchall(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM bookings"
        " WHERE state IN ('pending', 'confirmed', 'checked_in') GROUP BY service_point, start_at)"
    )
    return int(next(iter(rows))[0] or 0)


def main() -> None:
    """Parse the arguments, measure on a copy of the population, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000, help="residents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--attempts", type=int, default=200, help="concurrent attempts a round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        line = asyncio.run(measure(args.count, args.seed, args.attempts, args.rounds, Path(folder)))
    print(line)  # noqa: T201


if __name__ == "__main__":
    main()
