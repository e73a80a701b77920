"""Resident memory (RSS) of the running bot with a regency-sized population, under some load.

Starts the real bot (`python -m bot run`, its own process) on a copy of the cached population
(benchmarks/population.py) against the local Bot API server (in this process), as if it had
run yesterday (so at start-up it catches up today's job slots whose time has passed, in its own
process, as a bot running day after day does). While it serves, simulated users make `--checks`
one-shot /cek checks (`--users` at a time), one of them books a visit through the whole /antre
flow, and `dukcapil-bot run-job teen-reminders` plans the day's reminders against the same
database from another process; the bot's sender delivers what they planned. The bot's
VmRSS is sampled every 0.1 s from /proc, and its high-water mark (VmHWM) read before it stops.

Prints one line: `bot_memory: ... rss_mb=... peak_mb=... target=peak_mb<=300 ok|MISSED`.

`--engine postgresql`: the bot (and run-job) on a throwaway cluster with the population
(DATABASE_URL; benchmarks/population.py); the figure is the bot's memory, not the server's.

Usage: .venv/bin/python benchmarks/bot_memory.py [--count 1300000] [--seed 1] [--checks 200]
           [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from population import (  # benchmarks/ is on sys.path
    DBNAME,
    SECRET_KEY,
    Database,
    bench_database,
    engine_argument,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # botapi/ is not installed

from bot.config import TIMEZONE
from bot.crypto import Vault
from bot.jobs.registry import all_jobs
from bot.storage.outbox import ts
from botapi import BotApiServer
from botapi.server import BotMessage, SimUser

REPO = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-TOKEN"
TARGET_MB = 300
LINKS = 60_000  # linked chats at 1.3 M residents (the reminder benchmark's cache); pro rata
LINKED_CHAT = 10**9  # population.py numbers the linked chats from here
FIRST_USER = 8_000_000
BOOKER = 7_999_999
REPLY_TIMEOUT = 60.0  # seconds; a loaded 2-core machine can be slow, a missing reply is a failure


@dataclass
class Memory:
    """What /proc says about the bot's memory, sampled while it runs."""

    pid: int
    samples: int = 0
    rss_kb: int = 0  # latest VmRSS
    max_rss_kb: int = 0  # highest sampled VmRSS
    hwm_kb: int = 0  # VmHWM: the kernel's own peak

    def read(self) -> bool:
        """Sample /proc/<pid>/status; False once the process is gone."""
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if "VmRSS" not in fields:  # a zombie has no memory left to report
            return False
        self.rss_kb = int(fields["VmRSS"].split()[0])
        self.hwm_kb = max(self.hwm_kb, int(fields["VmHWM"].split()[0]))
        self.max_rss_kb = max(self.max_rss_kb, self.rss_kb)
        self.samples += 1
        return True

    async def watch(self, every: float = 0.1) -> None:
        """Sample until cancelled or the process ends."""
        while self.read():  # noqa: ASYNC110 (another process's memory: there is no event)
            await asyncio.sleep(every)


class _Statements:
    """A plain DB-API connection to the benchmark's database (sqlite3 or psycopg), its SQL
    written with SQLite's `?` parameters."""

    def __init__(self, conn: Any, postgresql: bool) -> None:
        self.conn, self.postgresql = conn, postgresql

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s") if self.postgresql else sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self.postgresql:
            with self.conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)
        else:
            self.conn.executemany(sql, rows)


@contextmanager
def connected(database: Database) -> Iterator[_Statements]:
    """The database, committed at the end of the block."""
    if database.cluster is not None:
        import psycopg

        with psycopg.connect(database.cluster.socket_dsn(DBNAME)) as pg:
            yield _Statements(pg, True)
        return
    assert database.path is not None
    with sqlite3.connect(database.path, timeout=30) as lite:
        yield _Statements(lite, False)


def pick_people(
    database: Database, checks: int, seed: int
) -> tuple[list[tuple[str, str]], str, str]:
    """`checks` random residents (NIK, KK) to check, and one unrecorded adult who books."""
    rng = random.Random(seed)
    vault = Vault.from_secret(SECRET_KEY)
    with connected(database) as conn:
        picked: list[tuple[bytes, bytes, bytes]] = []
        query = "SELECT nik_sealed, kk_sealed, nik_ref FROM residents"
        for n, row in enumerate(conn.execute(query)):
            if n < checks:  # reservoir sampling: one pass, uniform
                picked.append(tuple(row))
            elif (slot := rng.randrange(n + 1)) < checks:
                picked[slot] = tuple(row)
        born_by = datetime.now(TIMEZONE).year - 19  # adult by its whole year
        booker = conn.execute(
            "SELECT nik_sealed, kk_sealed, nik_ref FROM residents WHERE tanggal_rekam IS NULL"
            " AND status_nik = 'AKTIF' AND tahun_lahir BETWEEN 2000 AND ?"
            " ORDER BY tahun_lahir DESC LIMIT 1",
            (born_by,),
        ).fetchone()
    opened = [_open(vault, *row) for row in picked]
    return (opened, *_open(vault, *booker))


def _open(vault: Vault, nik: bytes, kk: bytes, ref: bytes) -> tuple[str, str]:
    return vault.open(nik, "residents.nik_sealed", ref), vault.open(kk, "residents.kk_sealed", ref)


def seed_yesterday(database: Database) -> int:
    """Record every job slot as run yesterday (a bot that ran daily); return today's due slots."""
    now = datetime.now(TIMEZONE)
    yesterday = (now.date() - timedelta(days=1)).isoformat()
    slots = [(spec.slot(at), at) for spec in all_jobs() for at in spec.times]
    with connected(database) as conn:
        conn.executemany(
            "INSERT INTO job_runs (job, day, planned, finished_at) VALUES (?, ?, 0, ?)"
            " ON CONFLICT (job, day) DO UPDATE SET planned = 0, finished_at = excluded.finished_at",
            [(slot, yesterday, datetime.now(UTC).isoformat()) for slot, _ in slots],
        )
    return sum(1 for _, at in slots if now.time().replace(tzinfo=None) >= at)


async def start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """`python -m bot run` in its own process group."""
    command = (sys.executable, "-m", "bot", "run")
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


async def until(condition: Callable[[], Awaitable[bool] | bool], within: float, what: str) -> None:
    """Poll `condition` (another process changes what it looks at) until true, or fail."""
    try:
        async with asyncio.timeout(within):
            while True:
                result = condition()
                if await result if isinstance(result, Awaitable) else result:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise SystemExit(f"bot_memory: timed out waiting for {what}") from None


async def check(user: SimUser, nik: str, kk: str) -> BotMessage:
    """One one-shot /cek and its answer."""
    user.send_text(f"/cek {nik} {kk}")
    return await user.next_message(timeout=REPLY_TIMEOUT)


async def checks_by(users: list[SimUser], people: list[tuple[str, str]]) -> int:
    """Every user checks their share of `people`, one after the other; the users in parallel."""

    async def one_user(index: int) -> int:
        answered = 0
        for nik, kk in people[index :: len(users)]:
            answer = await check(users[index], nik, kk)
            answered += nik[-4:] in answer.text  # the masked NIK: a real status answer
        return answered

    return sum(await asyncio.gather(*(one_user(i) for i in range(len(users)))))


def button(message: BotMessage, prefix: str) -> str:
    """The callback data of the first button starting with `prefix`."""
    return next(data for _, data in message.buttons if data.startswith(prefix))


async def book(user: SimUser, nik: str, kk: str) -> bool:
    """Verify with /cek, then walk /antre to the confirmation (as tests/e2e/test_booking.py)."""
    await check(user, nik, kk)
    user.send_text("/antre")
    services = await user.next_message(timeout=REPLY_TIMEOUT)
    user.press(services, "bk:svc:rekam")
    for prefix in ("bk:who:0", "bk:pt:kanigoro", "bk:day:", "bk:slot:"):
        step = await user.next_message(timeout=REPLY_TIMEOUT)
        user.press(step, button(step, prefix))
    summary = await user.next_message(timeout=REPLY_TIMEOUT)
    user.press(summary, "bk:ok")
    confirmation = await user.next_message(timeout=REPLY_TIMEOUT)
    return "<code>" in confirmation.html


async def run_job(env: dict[str, str], day: str) -> tuple[int, str]:
    """`dukcapil-bot run-job teen-reminders --date day` against the bot's database."""
    command = (sys.executable, "-m", "bot", "run-job", "teen-reminders", "--date", day)
    job = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await job.communicate()
    text = output.decode(errors="replace")
    planned = sum(int(n) for n in re.findall(r": (\d+) new messages planned", text))
    return job.returncode or 0, text if job.returncode else str(planned)


def open_messages(database: Database) -> int:
    """Outbox messages due now and not yet delivered."""
    with connected(database) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending') AND not_before <= ?",
            (ts(datetime.now(UTC)),),
        ).fetchone()
    return int(count)


async def measure(
    count: int, seed: int, checks: int, users: int, workdir: Path, engine: str = "sqlite"
) -> str:
    """Run the bot under load and return the summary line."""
    links = round(count * LINKS / 1_300_000)
    async with bench_database(engine, count, seed, links=links, folder=workdir) as database:
        return await _measure(database, count, seed, checks, users, workdir, links)


async def _measure(
    database: Database, count: int, seed: int, checks: int, users: int, workdir: Path, links: int
) -> str:
    people, booker_nik, booker_kk = await asyncio.to_thread(pick_people, database, checks, seed)
    due_slots = seed_yesterday(database)
    log = workdir / "bot.log"
    async with BotApiServer(TOKEN) as server:
        for n in range(links):
            server.user(LINKED_CHAT + n)  # the linked chats: reminders reach them
        checkers = [server.user(FIRST_USER + n) for n in range(users)]
        booker = server.user(BOOKER)
        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": server.base_url,
            **database.env,
            "SECRET_KEY": SECRET_KEY,
            "QUIET_HOURS": "off",
        }
        started = time.perf_counter()
        bot = await start_bot(env, log)
        memory = Memory(bot.pid)
        watcher = asyncio.create_task(memory.watch())
        try:
            await until(lambda: "bot ready" in log.read_text(errors="replace"), 120, "start")
            ready_s = time.perf_counter() - started
            today = datetime.now(TIMEZONE).date().isoformat()
            job = asyncio.create_task(run_job(env, today))
            answered, booked = await asyncio.gather(
                checks_by(checkers, people), book(booker, booker_nik, booker_kk)
            )
            code, planned = await job
            if code:
                raise SystemExit(f"bot_memory: run-job failed:\n{planned}")
            text = log.read_text(errors="replace")
            catch_up, errors = "catching up" in text, text.count("unhandled error")
            await until(lambda: open_messages(database) == 0, 300, "the outbox to drain")
            await asyncio.sleep(1.0)  # let the bot settle after its last send
            memory.read()
            served_s = time.perf_counter() - started
        except BaseException:
            for message in booker.inbox:
                print("booker saw:", message.method, message.buttons, file=sys.stderr)  # noqa: T201
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)  # noqa: T201
            raise
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(bot.wait(), 30)
            except TimeoutError:
                bot.kill()
                await bot.wait()
            watcher.cancel()
        if server.errors:
            raise SystemExit(f"bot_memory: invalid Bot API calls: {server.errors[:3]}")
    sent = sum(server.send_counts().get(LINKED_CHAT + n, 0) for n in range(links))
    rss_mb, peak_mb = memory.rss_kb / 1024, max(memory.hwm_kb, memory.max_rss_kb) / 1024
    verdict = "ok" if peak_mb <= TARGET_MB else "MISSED"
    return (
        f"bot_memory: residents={count} checks={answered}/{checks} users={users} "
        f"booked={int(booked)} teen_reminders_planned={planned} reminders_sent={sent} "
        f"catch_up_slots={due_slots if catch_up else 0} ready_s={ready_s:.1f} "
        f"served_s={served_s:.1f} bot_errors={errors} rss_mb={rss_mb:.0f} peak_mb={peak_mb:.0f} "
        f"target=peak_mb<={TARGET_MB} {verdict}"
    )


def main() -> None:
    """Measure in a temporary folder and print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000, help="residents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--checks", type=int, default=200, help="/cek checks in all")
    parser.add_argument("--users", type=int, default=50, help="users checking at a time")
    engine_argument(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bot-memory-") as folder:
        run = measure(args.count, args.seed, args.checks, args.users, Path(folder), args.engine)
        line = asyncio.run(run)
    print(line)  # noqa: T201


if __name__ == "__main__":
    main()
