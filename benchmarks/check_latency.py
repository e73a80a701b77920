"""The /cek answer end to end: the real bot polling the local Bot API server, 50 users at once.

The server runs in its own process (as Telegram would), with the simulated users: 50 of them at
a time each send `/cek <NIK> <KK>` for a resident of the population (70 % the right KK, 20 % a
wrong one, 10 % an unknown NIK), wait for the answer and send the next check; every fourth check
a user slot moves on to a new Telegram account, so no account reaches the failed-check lockout.
For each check the server notes the moment it hands the update to the bot (its getUpdates
answer is ready) and the moment the bot's answer (sendMessage) arrives: the difference is the
bot-side time.

Then bursts: `--users` fresh accounts send `/cek` in the same instant (one getUpdates answer hands
them all over at once), `--bursts` times, each after the last burst's answers. Their bot-side
times say whether a crowd waits in one line (updates handled one at a time) or side by side.

One line out: p50, p99, max and checks per second of the steady load, p50, p99 and max of the
bursts; the bot's CPU time per check (bot_cpu_ms_per_check: its process's polling, handling
and sending over all checks), which a machine shared with other work stretches much less than
the latencies.

`--engine postgresql`: the bot on a throwaway cluster with the population (DATABASE_URL, its
pool), benchmarks/population.py.

Usage: .venv/bin/python benchmarks/check_latency.py [--count 1300000] [--seed 1]
           [--users 50] [--checks 1000] [--bursts 10] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import gc
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram.warnings import PTBUserWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # botapi/ is not installed

from population import PARTS_FROM, SECRET_KEY, Database, bench_database, engine_argument

from bot import engine as enginemod
from bot.app import build_application
from bot.config import Settings
from bot.storage.residents import open_sealed
from botapi import BotApiServer

TOKEN = "123456:TEST-TOKEN"
FIRST_USER = 7_000_000_000
CHECKS_PER_ACCOUNT = 4  # below the default 5 failed checks per hour
TARGET_P50_MS, TARGET_P99_MS = 20.0, 100.0
TARGET_BURST_P99_MS = 50.0
BURST_ACCOUNTS = FIRST_USER + 900_000_000  # accounts of the bursts, each used once
_ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("arrived")


class TimedServer(BotApiServer):
    """The local server, noting when it hands each update over and when each answer arrives.

    Additive only: the calls are served exactly as by BotApiServer.
    """

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.handed: dict[int, float] = {}  # chat id -> when its latest update was handed over
        self.answered: dict[int, float] = {}  # chat id -> when the first answer after it came
        self._batch: list[dict[str, Any]] = []
        polls = self.sim.get_updates

        async def get_updates(params: dict[str, Any]) -> list[dict[str, Any]]:
            self._batch = await polls(params)
            return self._batch

        self.sim.get_updates = get_updates  # type: ignore[method-assign]

    async def _handle_method(self, request: web.Request) -> web.Response:
        _ARRIVED.set(time.perf_counter())
        return await super()._handle_method(request)

    async def _execute(self, method: str, params: dict[str, Any]) -> web.Response:
        if method == "sendMessage":
            chat = params["chat_id"]
            if chat in self.handed:
                self.answered.setdefault(chat, _ARRIVED.get())
        response = await super()._execute(method, params)
        if method == "getUpdates":  # the answer is serialized: the updates are handed over now
            moment = time.perf_counter()
            for update in self._batch:
                message = update.get("message")
                if message is not None:
                    self.handed.setdefault(message["chat"]["id"], moment)
            self._batch = []
        return response

    def expect(self, chat: int) -> None:
        """A new check from this chat starts: forget its last one."""
        self.handed.pop(chat, None)
        self.answered.pop(chat, None)


Check = tuple[str, str, bool]  # NIK, KK, whether the answer is the resident's status


def serve(pipe: Connection, checks: list[Check], users: int, think: float, bursts: int) -> None:
    """Child process: the server and the simulated users.

    Without the garbage collector: the server stands in for Telegram, and its full collections
    (it keeps every request and message of the run, thousands of objects) paused it for tens of
    milliseconds in the middle of a burst, time its clock then counted as the bot's."""
    gc.disable()
    asyncio.run(_serve(pipe, checks, users, think, bursts))


async def _serve(
    pipe: Connection, checks: list[Check], users: int, think: float, bursts: int
) -> None:
    loop = asyncio.get_running_loop()
    async with TimedServer(TOKEN) as server:
        pipe.send(server.base_url)
        await loop.run_in_executor(None, pipe.recv)  # the bot is polling
        todo = iter(checks)
        results: list[tuple[float, bool]] = []
        started = time.perf_counter()
        await asyncio.gather(
            *(_user_slot(server, slot, todo, results, think) for slot in range(users))
        )
        elapsed = time.perf_counter() - started
        crowd: list[tuple[float, bool]] = []
        for burst in range(bursts):
            crowd += await _burst(server, checks, users, burst)
        pipe.send((results, elapsed, crowd, len(server.errors)))
        await loop.run_in_executor(None, pipe.recv)  # the bot has stopped


async def _user_slot(
    server: TimedServer,
    slot: int,
    todo: Any,
    results: list[tuple[float, bool]],
    think: float,
) -> None:
    """One of the concurrent users: checks one after another, each 0 to 2 x `think` seconds
    after the last answer; a new account every few checks."""
    pause = random.Random(slot)
    await asyncio.sleep(pause.uniform(0, 2 * think))
    for done, (nik, kk, right) in enumerate(todo):
        account = FIRST_USER + slot * 1_000_000 + done // CHECKS_PER_ACCOUNT
        user = server.user(account)
        server.expect(account)
        user.send_text(f"/cek {nik} {kk}")
        answer = await user.next_message(timeout=30)
        seconds = server.answered[account] - server.handed[account]
        results.append((seconds, _is_status(answer.reply_markup) == right))
        await asyncio.sleep(pause.uniform(0, 2 * think))


async def _burst(
    server: TimedServer, checks: list[Check], users: int, burst: int
) -> list[tuple[float, bool]]:
    """`users` fresh accounts send /cek in the same instant; their bot-side times."""
    await asyncio.sleep(0.5)  # the bot is idle again
    accounts = [BURST_ACCOUNTS + burst * users + n for n in range(users)]
    sent = [checks[(burst * users + n) % len(checks)] for n in range(users)]
    for account, (nik, kk, _right) in zip(accounts, sent, strict=True):
        server.expect(account)
        server.user(account).send_text(f"/cek {nik} {kk}")  # no await: all in one getUpdates
    answers = [await server.user(account).next_message(timeout=30) for account in accounts]
    return [
        (server.answered[account] - server.handed[account], _is_status(a.reply_markup) == right)
        for account, a, (_nik, _kk, right) in zip(accounts, answers, sent, strict=True)
    ]


def _is_status(markup: dict[str, Any] | None) -> bool:
    """Whether the answer is a resident's status: it offers to link the verified NIK."""
    rows = (markup or {}).get("inline_keyboard", [])
    return any(str(b.get("callback_data", "")).startswith("link:") for row in rows for b in row)


async def _sample(database: Database, count: int, seed: int, *, residents: int) -> list[Check]:
    """`count` checks: right KK, wrong KK (another household's) and unknown NIK."""
    conn = await database.open()
    try:
        people = await _people(conn, seed, residents)
    finally:
        await conn.close()
    known = {nik for nik, _ in people}
    rng = random.Random(seed)
    checks = []
    for _ in range(count):
        nik, kk = rng.choice(people)
        roll = rng.random()
        if roll < 0.7:
            checks.append((nik, kk, True))
        elif roll < 0.9:
            other = rng.choice(people)[1]
            checks.append((nik, other, other == kk))
        else:
            unknown = nik[:12] + f"{1 + (int(nik[12:]) + 5003) % 9999:04d}"
            checks.append((unknown, kk, False if unknown not in known else unknown == nik))
    return checks


async def _people(conn: enginemod.Connection, seed: int, count: int) -> list[tuple[str, str]]:
    """About one resident in 389 (NIK, KK), the same ones on both engines; from PARTS_FROM
    residents on (PostgreSQL only), one in 256 chosen in SQL by lookup hash (opening every NIK
    of 13 M to choose took many minutes on a busy machine)."""
    if not enginemod.is_postgresql(conn):
        rows = await conn.execute_fetchall(
            "SELECT unseal(nik_sealed, 'residents.nik_sealed', nik_ref) AS nik,"
            " unseal(kk_sealed, 'residents.kk_sealed', nik_ref) FROM residents"
            " WHERE (CAST(substr(nik, 7) AS INTEGER) + ?) % 389 = 0",
            (seed,),
        )
        return [(str(nik), str(kk)) for nik, kk in rows]
    people = []  # no unseal() on the server: opened here, filtered as above
    if count >= PARTS_FROM:  # no SQLite twin (population.py): one in 256 by lookup hash
        rows = await conn.execute_fetchall(
            "SELECT nik_sealed, kk_sealed, nik_ref FROM residents WHERE get_byte(nik_ref, 0) = ?",
            (seed % 256,),
        )
        return [
            (
                open_sealed(conn.vault, "nik_sealed", nik, ref),
                open_sealed(conn.vault, "kk_sealed", kk, ref),
            )
            for nik, kk, ref in rows
        ]
    async with conn.execute("SELECT nik_sealed, kk_sealed, nik_ref FROM residents") as cursor:
        for nik_sealed, kk_sealed, ref in await cursor.fetchall():
            nik = open_sealed(conn.vault, "nik_sealed", nik_sealed, ref)
            if (int(nik[6:]) + seed) % 389 == 0:
                people.append((nik, open_sealed(conn.vault, "kk_sealed", kk_sealed, ref)))
    return people


async def _run_bot(settings: Settings, pipe: Connection) -> Any:
    """Start the real bot against the server, let the users check, stop the bot."""
    app = build_application(settings)
    await app.initialize()
    assert app.post_init is not None
    assert app.updater is not None
    await app.post_init(app)
    await app.updater.start_polling(poll_interval=0, timeout=10)
    await app.start()
    loop = asyncio.get_running_loop()
    try:
        pipe.send("go")
        cpu = time.process_time()  # this process is the bot's (the server has its own)
        outcome = await loop.run_in_executor(None, pipe.recv)
        return (*outcome, time.process_time() - cpu)
    finally:
        await app.updater.stop()
        await app.stop()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()


async def measure(
    count: int,
    seed: int,
    users: int,
    checks: int,
    think: float,
    bursts: int,
    workdir: Path,
    engine: str,
) -> str:
    """Prepare the population, run server and bot, summarize the bot-side times."""
    async with bench_database(engine, count, seed, folder=workdir) as database:
        return await _measure(database, count, seed, users, checks, think, bursts)


async def _measure(
    database: Database, count: int, seed: int, users: int, checks: int, think: float, bursts: int
) -> str:
    plan = await _sample(database, checks, seed, residents=count)
    size_mb = await asyncio.to_thread(database.size_mb)  # the population's, before the checks
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(theirs, plan, users, think, bursts), daemon=True
    )
    server.start()
    base_url = ours.recv()
    settings = Settings.from_env(
        {
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": base_url,
            **database.env,
            "SECRET_KEY": SECRET_KEY,
            "SEND_RATE": "0",
            # A third of the checks fail on purpose (wrong KK, unknown NIK): this measures the
            # check itself, not the regency-wide burst defence those failures would set off.
            "CHECK_BURST_FAILURES": "1000000",
        }
    )
    results, elapsed, crowd, errors, cpu = await _run_bot(settings, ours)
    ours.send("stop")
    server.join()
    times, burst = _millis(results), _millis(crowd) or [0.0]
    wrong = sum(1 for _, ok in results + crowd if not ok)
    p50, p99 = statistics.median(times), _p99(times)
    ok = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and wrong == 0 and errors == 0
    ok = ok and _p99(burst) <= TARGET_BURST_P99_MS
    return (
        f"check_latency: residents={count} users={users} checks={len(times)} "
        f"p50_ms={p50:.1f} p99_ms={p99:.1f} max_ms={times[-1]:.1f} "
        f"think_s={think:g} checks_per_s={len(times) / elapsed:.0f} "
        f"burst_checks={len(crowd)} burst_p50_ms={statistics.median(burst):.1f} "
        f"burst_p99_ms={_p99(burst):.1f} burst_max_ms={burst[-1]:.1f} "
        f"bot_cpu_ms_per_check={cpu * 1000 / (len(results) + len(crowd)):.2f} "
        f"wrong_answers={wrong} api_errors={errors} db_mb={size_mb:.0f} "
        f"target=p50<={TARGET_P50_MS:.0f}ms,p99<={TARGET_P99_MS:.0f}ms,"
        f"burst_p99<={TARGET_BURST_P99_MS:.0f}ms "
        f"{'ok' if ok else 'MISSED'}"
    )


def _millis(results: list[tuple[float, bool]]) -> list[float]:
    return sorted(seconds * 1000 for seconds, _ in results)


def _p99(times: list[float]) -> float:
    return times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    """Parse the arguments, measure in a temporary folder, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_300_000, help="residents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=50, help="concurrent users")
    parser.add_argument("--checks", type=int, default=1_000, help="checks in all")
    parser.add_argument("--bursts", type=int, default=10, help="bursts of --users at once")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean pause (s) between a user's answer and next check; 0: flat out",
    )
    engine_argument(parser)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)  # as in pytest
    with tempfile.TemporaryDirectory() as folder:
        run = measure(
            args.count,
            args.seed,
            args.users,
            args.checks,
            args.think,
            args.bursts,
            Path(folder),
            args.engine,
        )
        line = asyncio.run(run)
    print(line)  # noqa: T201


if __name__ == "__main__":
    main()
