"""Plan one day of residents' reminders (teens, deadline, deactivated) on a linked population.

Each planner runs through `bot.jobs.registry.run_planner` at its scheduled WIB time, exactly as
the JobQueue and `run-job` run it, on a copy of a cached database: the messages are rendered and
really written to the outbox. The default day, 23 April 2027, is the 7-days-before countdown point
of the 30 April 2027 deadline and 150 days after the sample's NONAKTIF NIKs were deactivated
(30·5), so every planner has work. Prints each job's seconds and
messages, then one summary line.

`--engine postgresql`: on a throwaway cluster with the population (benchmarks/population.py).

Usage: .venv/bin/python benchmarks/reminder_planning.py [--count N] [--seed S] [--links L]
       [--date YYYY-MM-DD] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from population import Database, bench_database, engine_argument

from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.rendering import Renderer

JOBS = ("teen-reminders", "deadline-reminders", "deactivated-reminders")
COUNTDOWN_DAY = date(2027, 4, 23)  # 7 days before the 30 April 2027 deadline
TARGET_S = 3.0
LINKS_PER_RESIDENT = 60_000 / 1_300_000  # 60,000 linked chats at 1.3 M residents


@dataclass(frozen=True)
class JobTime:
    """One planner's run: its name, wall seconds and the messages it wrote to the outbox."""

    name: str
    seconds: float
    planned: int


def default_links(count: int) -> int:
    """Linked chats in proportion to the population (60,000 at 1.3 M)."""
    return round(count * LINKS_PER_RESIDENT)


async def plan_day(database: Database, day: date) -> list[JobTime]:
    """Run the three reminder planners for `day` on `database`; time each one."""
    settings = database.settings
    renderer = Renderer()
    conn = await database.open()
    times = []
    try:
        for name in JOBS:
            spec = job_spec(name)
            at = spec.times[0]
            started = time.perf_counter()
            planned = await run_planner(
                spec,
                at,
                db=conn,
                renderer=renderer,
                settings=settings,
                day=day,
                now=scheduled_at(day, at),
            )
            times.append(JobTime(name, time.perf_counter() - started, planned))
    finally:
        await conn.close()
    return times


async def measure(
    count: int, seed: int, links: int, day: date, engine: str = "sqlite"
) -> list[JobTime]:
    """Plan the day on a fresh copy of the cached population."""
    with tempfile.TemporaryDirectory() as folder:
        async with bench_database(engine, count, seed, links=links, folder=Path(folder)) as db:
            return await plan_day(db, day)


def summary(count: int, links: int, day: date, times: list[JobTime]) -> str:
    """The one-line result."""
    total = sum(t.seconds for t in times)
    jobs = " ".join(f"{t.name.split('-')[0]}_s={t.seconds:.2f}" for t in times)
    verdict = "ok" if total <= TARGET_S else "MISSED"
    return (
        f"reminder_planning: residents={count} links={links} day={day} {jobs} "
        f"total_s={total:.2f} messages={sum(t.planned for t in times)} "
        f"target={TARGET_S:.0f}s {verdict}"
    )


def main() -> None:
    """Parse the options, measure, print each job and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--links", type=int, help="linked chats (default: 60,000 per 1.3 M)")
    parser.add_argument("--date", type=date.fromisoformat, default=COUNTDOWN_DAY)
    engine_argument(parser)
    args = parser.parse_args()
    links = default_links(args.count) if args.links is None else args.links
    times = asyncio.run(measure(args.count, args.seed, links, args.date, args.engine))
    for t in times:
        print(f"  {t.name}: {t.seconds:.3f} s, {t.planned} messages planned")  # noqa: T201
    print(summary(args.count, links, args.date, times))  # noqa: T201


if __name__ == "__main__":
    main()
