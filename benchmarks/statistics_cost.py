"""/statistik's figures on the regency's population: the regency's, then the whole breakdown.

On a copy of a cached population with the default service points and `--reminders` sent
reminders in the outbox (each with its sealed plan, as the reminder planners write them, due
days spread over the 45 days before the sample's day), it times `figures.figures` for the
regency and the breakdown the charts draw (`breakdown.parts` of the regency and
`breakdown.points`). The bot shares one connection, so every /cek waits while these run.
Prints one summary line; the target is the breakdown's.

Usage: .venv/bin/python benchmarks/statistics_cost.py [--count N] [--seed S] [--reminders R]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from population import BUILT_AT, SAMPLE_DAY, SECRET_KEY, prepared_database, working_copy

from bot import db as dbmod
from bot.crypto import Vault
from bot.services import breakdown
from bot.services.figures import REGENCY_CODE, area_scope, figures
from bot.services.outbox import reminder_key, reminder_plan
from bot.storage.outbox import insert_message
from bot.storage.service_points import seed_service_points

TARGET_S = 1.0
DUE_DAYS = 45  # reminders due in the 45 days up to the sample's day (the figures count 30)
KINDS = ("teen", "deadline", "deactivated")


async def plant_reminders(conn: dbmod.aiosqlite.Connection, count: int, seed: int) -> None:
    """`count` sent reminders about random residents, each with its sealed plan."""
    async with conn.execute("SELECT nik_ref FROM residents ORDER BY nik_ref") as cursor:
        refs = [bytes(row[0]) async for row in cursor]
    rng, vault = random.Random(seed), Vault.from_secret(SECRET_KEY)
    async with dbmod.transaction(conn):
        for n in range(count):
            kind, ref, chat_id = rng.choice(KINDS), rng.choice(refs), 10**9 + n
            due = SAMPLE_DAY - timedelta(days=rng.randrange(DUE_DAYS))
            await insert_message(
                conn,
                key=reminder_key(vault, kind, ref, chat_id, due),
                chat_id=chat_id,
                kind="reminder",
                text="-",
                reply_markup_json=None,
                not_before=BUILT_AT,
                now=BUILT_AT,
                plan=reminder_plan(kind, ref, chat_id, due),
            )
        await conn.execute(
            "UPDATE outbox SET state = 'sent', telegram_message_id = id WHERE kind = 'reminder'"
        )


async def measure(database: Path, reminders: int, seed: int) -> dict[str, float]:
    """Seconds for the regency's figures and for the breakdown; a few of the figures."""
    conn = await dbmod.connect(database, SECRET_KEY)
    try:
        await seed_service_points(conn)
        await plant_reminders(conn, reminders, seed)
        started = time.perf_counter()
        regency = await figures(conn, await area_scope(conn, REGENCY_CODE), today=SAMPLE_DAY)
        regency_s = time.perf_counter() - started
        started = time.perf_counter()
        parts = await breakdown.parts(conn, REGENCY_CODE, today=SAMPLE_DAY)
        points = await breakdown.points(conn, today=SAMPLE_DAY)
        breakdown_s = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "regency_s": regency_s,
        "breakdown_s": breakdown_s,
        "parts": len(parts),
        "busy_points": len(points),
        "residents": regency.residents,
        "reminded": regency.reminded,
        "parts_reminded": sum(part.reminded for part in parts),
        "outreach": regency.outreach,
    }


def main() -> None:
    """Parse the options, measure on a fresh copy, print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reminders", type=int, default=20_000, help="sent reminders")
    args = parser.parse_args()

    async def run() -> dict[str, float]:
        source = await prepared_database(args.count, args.seed)
        with tempfile.TemporaryDirectory() as folder:
            return await measure(working_copy(source, Path(folder)), args.reminders, args.seed)

    m = asyncio.run(run())
    verdict = "ok" if m["breakdown_s"] <= TARGET_S else "MISSED"
    print(  # noqa: T201
        f"statistics_cost: residents={args.count} reminders={args.reminders} "
        f"regency_s={m['regency_s']:.2f} breakdown_s={m['breakdown_s']:.2f} "
        f"parts={m['parts']:.0f} busy_points={m['busy_points']:.0f} "
        f"reminded={m['reminded']:.0f} parts_reminded={m['parts_reminded']:.0f} "
        f"outreach={m['outreach']:.0f} target={TARGET_S:.0f}s {verdict}"
    )


if __name__ == "__main__":
    main()
