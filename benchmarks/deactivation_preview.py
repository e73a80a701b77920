"""The annual deactivation preview on the regency's population, then its approval.

On a copy of a cached, linked population with one admin, the `deactivation-preview` job runs
through `bot.jobs.registry.run_planner` the day after the 30 April 2027 deadline: it counts the
cycle's cohort per kecamatan and desa, stores the run and queues the preview to the admin. Then,
for information, the count an approval screen shows and the approval itself (the cohort set
NONAKTIF in one transaction, notices queued to linked chats). Prints one summary line; the
target is the preview's.

Usage: .venv/bin/python benchmarks/deactivation_preview.py [--count N] [--seed S] [--links L]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from population import SECRET_KEY, prepared_database, working_copy
from reminder_planning import default_links

from bot import db as dbmod
from bot.config import Settings
from bot.handlers.deactivation import notifier
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.rendering import Renderer
from bot.services import deactivation
from bot.services.roles import add_user

DAY = date(2027, 5, 1)  # the day after the 30 April 2027 deadline
ADMIN_ID = 9003
TARGET_S = 5.0


async def measure(database: Path) -> dict[str, float]:
    """Preview (the job), the approval screen's count and the approval; seconds and counts."""
    settings = Settings.from_env(
        {"DATABASE_PATH": str(database), "SECRET_KEY": SECRET_KEY}, require_token=False
    )
    renderer, spec = Renderer(), job_spec("deactivation-preview")
    at = spec.times[0]
    conn = await dbmod.connect(database, SECRET_KEY)
    try:
        admin = await add_user(
            conn, ADMIN_ID, "admin", service_point=None, area=None, now=scheduled_at(DAY, at)
        )
        started = time.perf_counter()
        planned = await run_planner(
            spec,
            at,
            db=conn,
            renderer=renderer,
            settings=settings,
            day=DAY,
            now=scheduled_at(DAY, at),
        )
        preview_s = time.perf_counter() - started
        run = await deactivation.prepare_preview(conn, day=DAY, now=scheduled_at(DAY, at))
        started = time.perf_counter()
        await deactivation.count_now(conn, run)
        count_s = time.perf_counter() - started
        approved_at = datetime.combine(DAY, at, tzinfo=settings.tz).replace(hour=10)
        started = time.perf_counter()
        approval = await deactivation.approve(
            conn,
            run.id,
            admin=admin,
            today=DAY,
            now=approved_at,
            notifier=notifier(renderer, settings),
        )
        apply_s = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "preview_s": preview_s,
        "cohort": run.total,
        "desa": len(run.desa),
        "admin_messages": planned,
        "count_s": count_s,
        "apply_s": apply_s,
        "deactivated": approval.run.applied_count or 0,
        "notices": approval.notices,
    }


def main() -> None:
    """Parse the options, measure on a fresh copy, print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--links", type=int, help="linked chats (default: 60,000 per 1.3 M)")
    args = parser.parse_args()
    links = default_links(args.count) if args.links is None else args.links

    async def run() -> dict[str, float]:
        source = await prepared_database(args.count, args.seed, links=links)
        with tempfile.TemporaryDirectory() as folder:
            return await measure(working_copy(source, Path(folder)))

    m = asyncio.run(run())
    verdict = "ok" if m["preview_s"] <= TARGET_S else "MISSED"
    print(  # noqa: T201
        f"deactivation_preview: residents={args.count} links={links} "
        f"preview_s={m['preview_s']:.2f} cohort={m['cohort']:.0f} desa={m['desa']:.0f} "
        f"admin_messages={m['admin_messages']:.0f} count_s={m['count_s']:.2f} "
        f"apply_s={m['apply_s']:.2f} deactivated={m['deactivated']:.0f} "
        f"notices={m['notices']:.0f} target={TARGET_S:.0f}s {verdict}"
    )


if __name__ == "__main__":
    main()
