"""How the import and a day's reminder planning grow with the population: 100 k, 300 k, 1.3 M.

For each size: the sample export imported into an empty, migrated database (the importer, timed
alone), then the three reminder planners of reminder_planning.py on the cached population of that
size with linked chats in proportion (60,000 per 1.3 M). Prints a line per size with the seconds
and the cost per resident (µs), then one summary line with the ratio of the per-resident cost at
the largest size to the smallest: growth no worse than linear keeps it at about 1 or below
(LINEAR_RATIO leaves room for the B-trees' logarithmic depth and a noisy machine).

Usage: .venv/bin/python benchmarks/cost_growth.py [--count N] [--seed S]
       (sizes N/13, 3N/13 and N: 100 k, 300 k and 1.3 M by default; --counts A,B,C to choose)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from population import SECRET_KEY, bench_database, csv_path
from reminder_planning import COUNTDOWN_DAY, default_links, plan_day

from bot import db as dbmod
from bot.services.importer import import_residents
from bot.storage.areas import sync_areas

SHARES = (1 / 13, 3 / 13, 1)  # of --count: 100 k, 300 k and 1.3 M for the regency
LINEAR_RATIO = 1.25  # log2(1.3 M) / log2(100 k) ≈ 1.22: a B-tree's depth, no more


@dataclass(frozen=True)
class Size:
    """One population size's figures."""

    count: int
    import_s: float
    planning_s: float
    messages: int

    def per_resident_us(self, seconds: float) -> float:
        """Microseconds per resident."""
        return seconds / self.count * 1e6


async def import_seconds(count: int, seed: int, folder: Path) -> float:
    """Wall seconds of importing the cached sample into an empty, migrated database."""
    sample = await asyncio.to_thread(csv_path, count, seed)
    conn = await dbmod.connect(folder / f"import-{count}.sqlite3", SECRET_KEY)
    try:
        await dbmod.migrate(conn)
        await sync_areas(conn)
        started = time.perf_counter()
        report = await import_residents(conn, sample, now=datetime.now(UTC))
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    assert report.inserted > 0.99 * count, report.summary()
    return seconds


async def measure(count: int, seed: int) -> Size:
    """Import, then plan a day of reminders, at one size."""
    with tempfile.TemporaryDirectory() as folder:
        imported = await import_seconds(count, seed, Path(folder))
        links = default_links(count)
        async with bench_database("sqlite", count, seed, links=links, folder=Path(folder)) as db:
            times = await plan_day(db, COUNTDOWN_DAY)
    return Size(count, imported, sum(t.seconds for t in times), sum(t.planned for t in times))


def main() -> None:
    """Measure each size in turn (smallest first), print a line each and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000, help="the largest size")
    parser.add_argument("--counts", help="the sizes, comma-separated (instead of --count)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.counts:
        counts = sorted(int(n) for n in args.counts.split(","))
    else:
        counts = [round(args.count * share) for share in SHARES]
    sizes = []
    for count in counts:
        size = asyncio.run(measure(count, args.seed))
        sizes.append(size)
        print(  # noqa: T201
            f"  residents={count}: import {size.import_s:.1f} s "
            f"({size.per_resident_us(size.import_s):.1f} µs/resident), planning "
            f"{size.planning_s:.2f} s for {size.messages} messages "
            f"({size.per_resident_us(size.planning_s):.2f} µs/resident)"
        )
    first, last = sizes[0], sizes[-1]
    import_ratio = last.per_resident_us(last.import_s) / first.per_resident_us(first.import_s)
    planning_ratio = last.per_resident_us(last.planning_s) / first.per_resident_us(first.planning_s)
    linear = max(import_ratio, planning_ratio) <= LINEAR_RATIO
    print(  # noqa: T201
        f"cost_growth: sizes={'/'.join(str(s.count) for s in sizes)} "
        f"import_s={'/'.join(f'{s.import_s:.1f}' for s in sizes)} "
        f"planning_s={'/'.join(f'{s.planning_s:.2f}' for s in sizes)} "
        f"import_per_resident_ratio={import_ratio:.2f} "
        f"planning_per_resident_ratio={planning_ratio:.2f} "
        f"growth={'linear' if linear else 'worse_than_linear'} "
        f"target=ratio<={LINEAR_RATIO} {'ok' if linear else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
