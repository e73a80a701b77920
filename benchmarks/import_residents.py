"""Generate a sample population and time its import into an empty database (one line out).

Usage: .venv/bin/python benchmarks/import_residents.py [COUNT]   (default 100,000)
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bot import db as dbmod
from bot.services.importer import import_residents
from bot.services.sample import write_sample
from bot.storage.areas import sync_areas


async def measure(count: int, workdir: Path) -> str:
    """Generate, import into an empty database, re-import; report seconds and peak memory."""
    csv_path = workdir / "sample.csv"
    started = time.perf_counter()
    write_sample(csv_path, count, seed=1, today=date(2026, 11, 24))
    generated = time.perf_counter() - started
    conn = await dbmod.connect(workdir / "bench.sqlite3")
    await dbmod.migrate(conn)
    await sync_areas(conn)
    started = time.perf_counter()
    first = await import_residents(conn, csv_path, now=datetime.now(UTC))
    imported = time.perf_counter() - started
    started = time.perf_counter()
    await import_residents(conn, csv_path, now=datetime.now(UTC))
    reimported = time.perf_counter() - started
    await conn.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"residents={count} generate_s={generated:.1f} import_s={imported:.1f} "
        f"reimport_s={reimported:.1f} peak_rss_mb={peak_mb:.0f} ({first.summary()})"
    )


def main() -> None:
    """Run the measurement in a temporary folder."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        print(asyncio.run(measure(count, Path(folder))))  # noqa: T201


if __name__ == "__main__":
    main()
