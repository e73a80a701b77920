"""The booking transaction under 200 concurrent attempts, on one shared connection (the bot's
own shape), in a database with the population: bookings per second, and never over capacity.

Each round books 200 different residents at once into one day's slots at Kanigoro (20 places a
slot, the attempts spread over the slots); the rounds take the next open days. The figure is
all bookings over the wall time of all rounds; the fullest slot must not exceed its capacity.
One line out.

`--engine postgresql`: on a throwaway cluster with the population (benchmarks/population.py),
through the bot's own pool of DATABASE_POOL_SIZE connections (its shape there).

Usage: .venv/bin/python benchmarks/booking_concurrency.py [--count 1300000] [--seed 1]
           [--attempts 200] [--rounds 5] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from population import bench_database, engine_argument

from bot import db as dbmod
from bot import engine as enginemod
from bot.domain import Booking
from bot.services.booking import book
from bot.services.points import update_point
from bot.services.schedule import free_slots, open_days
from bot.storage.areas import sync_areas
from bot.storage.residents import open_sealed
from bot.storage.service_points import get_service_point, seed_service_points

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 08:00 WIB
CAPACITY = 20
TARGET = 300  # bookings per second


async def measure(
    count: int, seed: int, attempts: int, rounds: int, workdir: Path, engine: str = "sqlite"
) -> str:
    """Book `rounds` x `attempts` residents, `attempts` at a time; summarize."""
    async with bench_database(engine, count, seed, folder=workdir) as database:
        return await _measure(await database.open(), count, seed, attempts, rounds)


async def _measure(
    conn: enginemod.Connection, count: int, seed: int, attempts: int, rounds: int
) -> str:
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
            refusals = Counter(type(r).__name__ for r in results if not isinstance(r, Booking))
            if refusals:
                print(f"round {n + 1}: refused {dict(refusals)}", file=sys.stderr)  # noqa: T201
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


async def _try(conn: enginemod.Connection, nik: str, n: int, start: datetime) -> object:
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


async def _residents(conn: enginemod.Connection, count: int, seed: int) -> list[str]:
    """`count` residents who may book a recording visit (active, not yet recorded, adult by
    their whole birth year), spread over the population; the same ones on both engines (opened
    here: PostgreSQL has no unseal())."""
    rows = await conn.execute_fetchall(
        "SELECT nik_sealed, nik_ref FROM residents WHERE status_nik = 'AKTIF'"
        " AND tanggal_rekam IS NULL AND tahun_lahir <= ?",
        (NOW.year - 19,),
    )
    vault = dbmod.vault_of(conn)
    niks = sorted(open_sealed(vault, "nik_sealed", sealed, ref) for sealed, ref in rows)
    if len(niks) < count:
        raise SystemExit(f"the population has only {len(niks)} residents to book")
    step = len(niks) // count
    return random.Random(seed).sample(niks[::step][:count], count)


async def _fullest_slot(conn: enginemod.Connection) -> int:
    rows = await conn.execute_fetchall(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM bookings"
        " WHERE state IN ('pending', 'confirmed', 'checked_in')"
        " GROUP BY service_point, start_at) AS slots"
    )
    return int(next(iter(rows))[0] or 0)


def main() -> None:
    """Parse the arguments, measure on a copy of the population, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000, help="residents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--attempts", type=int, default=200, help="concurrent attempts a round")
    parser.add_argument("--rounds", type=int, default=5)
    engine_argument(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run = measure(args.count, args.seed, args.attempts, args.rounds, Path(folder), args.engine)
        line = asyncio.run(run)
    print(line)  # noqa: T201


if __name__ == "__main__":
    main()
