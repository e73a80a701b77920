"""Time `dukcapil-bot import-residents` of a sample export into an empty database, then again.

The export comes from the sample generator (cached under /tmp/dukcapil-bench by
benchmarks/population.py). Each import is the real command in its own process, so its wall
time includes start-up and migrations and its peak memory (ru_maxrss, from wait4) is the
command's alone (on PostgreSQL the server's memory is not in it). The second import of the same
file updates every row. `--engine postgresql`: into a throwaway cluster's empty database
(benchmarks/population.py), through DATABASE_URL; the summary also gives the database's size.

Prints a detail line, then the summary line:
`import_residents: residents=N import_s=... reimport_s=... peak_mb=... target=... ok|MISSED`.

Usage: .venv/bin/python benchmarks/import_residents.py [--count 1300000] [--seed 1]
           [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from population import SECRET_KEY, csv_path, empty_database, engine_argument  # benchmarks/ on path

REPO = Path(__file__).resolve().parent.parent
TARGET_IMPORT_S, TARGET_REIMPORT_S, TARGET_PEAK_MB = 60, 90, 1024


def import_once(csv: Path, database: dict[str, str]) -> tuple[float, float, str]:
    """Run the command; (wall seconds, peak RSS in MiB, its last line of output)."""
    env = {**os.environ, **database, "SECRET_KEY": SECRET_KEY}
    command = [sys.executable, "-m", "bot", "import-residents", str(csv)]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        assert process.stdout is not None
        output = process.stdout.read()  # to the end first: a full pipe would block the child
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            log.seek(0)
            raise SystemExit(f"import_residents: the import failed:\n{output}{log.read()}")
    lines = output.strip().splitlines()
    return seconds, usage.ru_maxrss / 1024, lines[-1] if lines else ""


async def imports(csv: Path, engine: str) -> tuple[float, float, str, float, float, str, float]:
    """Both imports into one new database of `engine`, then the database's size (MiB)."""
    with tempfile.TemporaryDirectory(prefix="import-") as folder:
        async with empty_database(engine, Path(folder)) as database:
            first = await asyncio.to_thread(import_once, csv, database.env)
            again = await asyncio.to_thread(import_once, csv, database.env)
            return (*first, *again, database.size_mb())


def main() -> None:
    """Import twice into a fresh database in a temporary folder; print the two lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000, help="residents")
    parser.add_argument("--seed", type=int, default=1)
    engine_argument(parser)
    args = parser.parse_args()
    csv = csv_path(args.count, args.seed)
    first_s, first_mb, first, again_s, again_mb, again, size_mb = asyncio.run(
        imports(csv, args.engine)
    )
    peak_mb = max(first_mb, again_mb)
    print(f"first import: {first} | re-import: {again}")  # noqa: T201
    ok = first_s <= TARGET_IMPORT_S and again_s <= TARGET_REIMPORT_S and peak_mb <= TARGET_PEAK_MB
    print(  # noqa: T201
        f"import_residents: residents={args.count} import_s={first_s:.1f} "
        f"reimport_s={again_s:.1f} peak_mb={peak_mb:.0f} db_mb={size_mb:.0f} "
        f"target=import_s<={TARGET_IMPORT_S},reimport_s<={TARGET_REIMPORT_S},"
        f"peak_mb<={TARGET_PEAK_MB} {'ok' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
