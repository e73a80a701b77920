"""Run every benchmark one after the other and write their summary lines as a Markdown table.

Each script prints, as the last line of its output, `name: key=value ... target=... ok|MISSED`.
This runner passes `--count N` (and `--seed S`) to the scripts that accept them (their --help
says so), collects that line, and writes benchmarks/RESULTS.md: one row per run with its
figures, target and verdict, plus the date and the machine. A script that is not there is
reported as "not available"; one whose last line has figures but not that form as "no verdict";
one that fails or prints nothing like figures as "failed". The runner exits 1 if a script failed
(a missed target is a result, not a failure).

The scripts that take `--engine` (their --help says so) run once per engine of `--engines`
(SQLite, then PostgreSQL on a throwaway cluster of their own), and RESULTS.md gets a second
table with the headline figures of both engines side by side. The load average of the machine
at the start and at the end is written in the header: the figures of a busy machine say so.

Usage: .venv/bin/python benchmarks/run_all.py [--count 1300000] [--seed 1] [--only NAME ...]
           [--engines sqlite postgresql]
  (`make bench`, or `make bench BENCH_COUNT=100000` for a quick smoke run)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
TIMEOUT = 60 * 60  # seconds per script: a hung benchmark must not hang `make bench`
FULL_COUNT = 1_300_000

# (script, extra arguments): every benchmark of issue 7, in the order of its target table.
RUNS: list[tuple[str, tuple[str, ...]]] = [
    ("import_residents.py", ()),
    ("reminder_planning.py", ()),
    ("deactivation_preview.py", ()),
    ("check_latency.py", ()),
    ("burst_floor.py", ()),  # issue 13: the burst of a bot that answers a constant
    ("booking_concurrency.py", ()),
    ("sender.py", ("--rate", "30")),
    ("sender.py", ("--rate", "0")),
    ("bot_memory.py", ()),
    ("cost_growth.py", ()),
    ("key_rotation.py", ()),  # issue 6: how long `rotate-key` keeps the bot stopped
    ("statistics_cost.py", ()),  # issue 19: /statistik's figures and chart breakdown
    ("outreach_pdf.py", ()),  # the printable outreach list: CPU of one render
]

ENGINES = ("sqlite", "postgresql")
# The side-by-side table: (what, script, figure, unit, target); the figure as the script prints it.
SIDE_BY_SIDE: list[tuple[str, str, str, str, str]] = [
    ("import-residents", "import_residents.py", "import_s", "s", "<= 60 s"),
    ("re-import (every row an update)", "import_residents.py", "reimport_s", "s", "<= 90 s"),
    ("import: peak memory of the command", "import_residents.py", "peak_mb", "MB", "<= 1024 MB"),
    ("database size after the import", "import_residents.py", "db_mb", "MB", ""),
    ("/cek p50 (bot side)", "check_latency.py", "p50_ms", "ms", "<= 20 ms"),
    ("/cek p99 (bot side)", "check_latency.py", "p99_ms", "ms", "<= 100 ms"),
    ("/cek burst p99", "check_latency.py", "burst_p99_ms", "ms", "<= 50 ms"),
    (
        "bookings per second (200 at once)",
        "booking_concurrency.py",
        "bookings_per_s",
        "/s",
        ">= 300/s",
    ),
    ("a day's reminder planning", "reminder_planning.py", "total_s", "s", "<= 3 s"),
    ("bot's peak memory (VmHWM)", "bot_memory.py", "peak_mb", "MB", "<= 300 MB"),
]

SUMMARY = re.compile(r"^(?P<name>[\w.-]+): (?P<body>.*?)\s*(?P<verdict>ok|MISSED)$")


@dataclass
class Outcome:
    """One script's run: what it printed as its summary and how it went."""

    script: str
    args: tuple[str, ...]
    status: str  # ok, MISSED, not available, no verdict (not in the summary form), failed
    figures: str = ""
    target: str = ""
    seconds: float = 0.0
    detail: str = ""  # why it failed
    engine: str = "sqlite"

    @property
    def label(self) -> str:
        return " ".join(("benchmarks/" + self.script, *self.args))

    def figure(self, key: str) -> str:
        """One `key=value` of the figures ("" when absent)."""
        found = re.search(rf"(?:^| ){re.escape(key)}=(\S+)", self.figures)
        return found[1] if found else ""


def parse_summary(line: str) -> tuple[str, str, str] | None:
    """`name: a=1 b=2 target=x<=3 ok` -> ("a=1 b=2", "x<=3", "ok"); None if not that form."""
    match = SUMMARY.match(line.strip())
    if match is None:
        return None
    figures, found, target = f" {match['body']}".partition(" target=")
    if not found:
        return None
    return figures.strip(), target.strip(), match["verdict"]


def accepts(script: Path, option: str) -> bool:
    """Whether the script's --help mentions `option` (older scripts take positional args)."""
    try:
        help_text = subprocess.run(
            [sys.executable, str(script), "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout
    except subprocess.TimeoutExpired:
        return False
    return option in help_text


def run(
    script: str, args: tuple[str, ...], count: int, seed: int, engine: str | None = None
) -> Outcome:
    """Run one benchmark (its stderr passes through) and read its last line of output;
    `engine`: passed as --engine (the script takes it)."""
    path = HERE / script
    if not path.exists():
        return Outcome(script, args, "not available", detail="the script is not there yet")
    command = [sys.executable, str(path), *args]
    for option, value in (("--count", count), ("--seed", seed)):
        if accepts(path, option):
            command += [option, str(value)]
    if engine is not None:
        command += ["--engine", engine]
    shown = " ".join(["benchmarks/" + script, *command[2:]])
    print(f"== {shown}", flush=True)  # noqa: T201
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(script, tuple(command[2:]), "failed", detail=f"over {TIMEOUT} s")
    seconds = time.perf_counter() - started
    print(done.stdout, end="", flush=True)  # noqa: T201
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    outcome = Outcome(
        script, tuple(command[2:]), "failed", seconds=seconds, engine=engine or "sqlite"
    )
    if done.returncode != 0:
        outcome.detail = f"exit status {done.returncode}"
        return outcome
    parsed = parse_summary(lines[-1]) if lines else None
    if parsed is None:
        if lines and "=" in lines[-1]:  # figures, but not in the summary form: shown as they are
            outcome.status, outcome.figures = "no verdict", lines[-1]
        else:
            outcome.detail = "no summary line: " + (lines[-1] if lines else "no output")
        return outcome
    outcome.figures, outcome.target, outcome.status = parsed
    return outcome


def machine() -> str:
    """Cores, memory, CPU model, Python and OS, for the results' header."""
    meminfo = _read("/proc/meminfo")
    kib = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    memory = f"{int(kib[1]) / 1024 / 1024:.1f} GiB" if kib else "unknown"
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cores} CPU cores (nproc), {memory} RAM, "
        f"{model[1].strip() if model else platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def load() -> str:
    """The load averages (1, 5, 15 minutes) and the cores they compare with."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def table(
    outcomes: list[Outcome],
    *,
    count: int,
    seed: int,
    started: datetime,
    loads: tuple[str, str] = ("", ""),
) -> str:
    """RESULTS.md: when, where, with what population, one row per run, and the engines side
    by side."""
    population = f"{count:,} residents (sample-residents, seed {seed})"
    if count < FULL_COUNT:
        population += f": a smoke run, not the {FULL_COUNT:,} of the targets"
    elif count > FULL_COUNT:
        population += f": beyond the {FULL_COUNT:,} the targets are set for (issue 15's sizing)"
    rows = [
        "# Benchmark results",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC (`make bench`, benchmarks/run_all.py)",
        f"- Machine: {machine()}",
        f"- Population: {population}",
        f"- Load average (1/5/15 min) at the start: {loads[0]}; at the end: {loads[1]}",
        "",
        "| benchmark | figures | target | result | wall time |",
        "|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        figures = outcome.figures or outcome.detail
        took = f"{outcome.seconds:.0f} s" if outcome.seconds else ""
        rows.append(
            f"| `{_cell(outcome.label)}` | {_cell(figures)} | {_cell(outcome.target)} "
            f"| {outcome.status} | {took} |"
        )
    rows += side_by_side(outcomes)
    return "\n".join(rows) + "\n"


def side_by_side(outcomes: list[Outcome]) -> list[str]:
    """The headline figures of each engine in a column of its own (none when only one ran)."""
    engines = [e for e in ENGINES if any(o.engine == e and o.figures for o in outcomes)]
    if len(engines) < 2:
        return []
    rows = [
        "",
        "## SQLite and PostgreSQL side by side",
        "",
        "| figure | " + " | ".join(_ENGINE_NAMES[e] for e in engines) + " | target |",
        "|---|" + "---|" * len(engines) + "---|",
    ]
    for what, script, key, unit, target in SIDE_BY_SIDE:
        cells = []
        for engine in engines:
            ran = [o for o in outcomes if o.script == script and o.engine == engine]
            value = ran[0].figure(key) if ran else ""
            cells.append(f"{value} {unit}" if value else "-")
        if any(cell != "-" for cell in cells):
            rows.append(f"| {what} | " + " | ".join(cells) + f" | {_cell(target)} |")
    return rows


_ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> int:
    """Run the benchmarks, write RESULTS.md, return 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=FULL_COUNT, help="residents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="run only these scripts (e.g. sender.py)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the Markdown file written")
    parser.add_argument(
        "--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
        help="the engines of the scripts that take --engine (default: both)",
    )  # fmt: skip
    args = parser.parse_args()
    started, at_start = datetime.now(UTC), load()
    outcomes = []
    for script, extra in RUNS:
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        path = HERE / script
        engines = args.engines if path.exists() and accepts(path, "--engine") else [None]
        for engine in engines:
            outcome = run(script, extra, args.count, args.seed, engine)
            outcomes.append(outcome)
            print(f"-> {outcome.label}: {outcome.status} {outcome.detail}".rstrip(), flush=True)  # noqa: T201
    text = table(
        outcomes, count=args.count, seed=args.seed, started=started, loads=(at_start, load())
    )
    args.out.write_text(text, encoding="utf-8")
    print(f"\n{text}\nwritten to {args.out}")  # noqa: T201
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
