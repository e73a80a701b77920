"""Run every benchmark one after the other and write their summary lines as a Markdown table.

Each script prints, as the last line of its output, `name: key=value ... target=... ok|MISSED`.
This runner passes `--count N` (and `--seed S`) to the scripts that accept them (their --help
says so), collects that line, and writes benchmarks/RESULTS.md: one row per run with its
figures, target and verdict, plus the date and the machine. A script that is not there is
reported as "not available"; one whose last line has figures but not that form as "no verdict";
one that fails or prints nothing like figures as "failed". The runner exits 1 if a script failed
(a missed target is a result, not a failure).

Usage: .venv/bin/python benchmarks/run_all.py [--count 1300000] [--seed 1] [--only NAME ...]
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
    ("booking_concurrency.py", ()),
    ("sender.py", ("--rate", "30")),
    ("sender.py", ("--rate", "0")),
    ("bot_memory.py", ()),
    ("cost_growth.py", ()),
    ("key_rotation.py", ()),  # issue 6: how long `rotate-key` keeps the bot stopped
    ("statistics_cost.py", ()),  # issue 19: /statistik's figures and chart breakdown
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

    @property
    def label(self) -> str:
        return " ".join(("benchmarks/" + self.script, *self.args))


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


def run(script: str, args: tuple[str, ...], count: int, seed: int) -> Outcome:
    """Run one benchmark (its stderr passes through) and read its last line of output."""
    path = HERE / script
    if not path.exists():
        return Outcome(script, args, "not available", detail="the script is not there yet")
    command = [sys.executable, str(path), *args]
    for option, value in (("--count", count), ("--seed", seed)):
        if accepts(path, option):
            command += [option, str(value)]
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
    outcome = Outcome(script, tuple(command[2:]), "failed", seconds=seconds)
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


def table(outcomes: list[Outcome], *, count: int, seed: int, started: datetime) -> str:
    """RESULTS.md: when, where, with what population, and one row per run."""
    population = f"{count:,} residents (sample-residents, seed {seed})"
    if count != FULL_COUNT:
        population += f": a smoke run, not the {FULL_COUNT:,} of the targets"
    rows = [
        "# Benchmark results",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC (`make bench`, benchmarks/run_all.py)",
        f"- Machine: {machine()}",
        f"- Population: {population}",
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
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> int:
    """Run the benchmarks, write RESULTS.md, return 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=FULL_COUNT, help="residents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="run only these scripts (e.g. sender.py)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the Markdown file written")
    args = parser.parse_args()
    started = datetime.now(UTC)
    outcomes = []
    for script, extra in RUNS:
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        outcome = run(script, extra, args.count, args.seed)
        outcomes.append(outcome)
        print(f"-> {outcome.label}: {outcome.status} {outcome.detail}".rstrip(), flush=True)  # noqa: T201
    text = table(outcomes, count=args.count, seed=args.seed, started=started)
    args.out.write_text(text, encoding="utf-8")
    print(f"\n{text}\nwritten to {args.out}")  # noqa: T201
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
