"""The outbox sender's throughput against the local Bot API server enforcing Telegram's limits.

Fills an outbox with one broadcast message to each of N simulated users, runs the bot's own
`Sender` loop (the Application's bot, its Pacer at SEND_RATE) until the outbox is drained, and
prints one line: messages/second and the 429s the server answered. The server runs in its own
process, as Telegram would, so it does not share this process's CPU with the sender.

Usage: .venv/bin/python benchmarks/sender.py [--rate 30] [--messages N]
  --rate 30 (Telegram's limits; target >= 95 % of 30/s and zero 429s; default N 3,000)
  --rate 0  (limits off, paid broadcasts; target >= 1,000/s; default N 20,000)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import aiosqlite
from population import SECRET_KEY  # benchmarks/ is on sys.path
from telegram.warnings import PTBUserWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # botapi/ is not installed

from bot.app import build_application, prepare_database
from bot.clock import SystemClock
from bot.config import Settings
from bot.jobs.sender import Sender
from bot.services import outbox
from botapi import BotApiServer

TOKEN = "123456:TEST-TOKEN"
FIRST_CHAT = 5_000_000
TEXT = "<b>Perekaman e-KTP keliling</b> hari Sabtu di balai desa. Bawa KK asli."


def serve(pipe: Connection, users: int, limits: bool) -> None:
    """Child process: the local server with `users` users, until the parent says stop."""
    asyncio.run(_serve(pipe, users, limits))


async def _serve(pipe: Connection, users: int, limits: bool) -> None:
    async with BotApiServer(TOKEN) as server:
        for n in range(users):
            server.user(FIRST_CHAT + n)
        if limits:
            server.faults.enforce_limits()
        pipe.send(server.base_url)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        counts = server.send_counts().values()
        pipe.send((server.flood_count, sum(counts), max(counts, default=0)))


async def measure(rate: int, messages: int, base_url: str, workdir: Path) -> tuple[int, float]:
    """Plan `messages` broadcast messages, drain them with the Sender; (sent, seconds)."""
    settings = Settings.from_env(
        {
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": base_url,
            "DATABASE_PATH": str(workdir / "bench.sqlite3"),
            "SECRET_KEY": SECRET_KEY,
            "SEND_RATE": str(rate),
            "QUIET_HOURS": "off",
        }
    )
    db = await prepare_database(settings)
    planned = [
        outbox.Planned(f"broadcast:1:{chat}", chat, "broadcast", TEXT)
        for chat in range(FIRST_CHAT, FIRST_CHAT + messages)
    ]
    await outbox.enqueue_many(db, planned, now=datetime.now(UTC), quiet=None)
    app = build_application(settings)
    await app.initialize()
    sender = Sender(app.bot, db, SystemClock(), pacer=app.bot_data["pacer"], quiet=None)
    started = time.perf_counter()
    sender.start()
    while await _open(db):  # noqa: ASYNC110 (the outbox is the record; there is no event)
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await sender.stop()
    await app.shutdown()
    sent = (await outbox.delivery_report(db, "broadcast:1:"))["sent"]
    await db.close()
    return sent, elapsed


async def _open(db: aiosqlite.Connection) -> int:
    """Messages still queued or being sent."""
    report = await outbox.delivery_report(db, "broadcast:1:")
    return report["queued"] + report["sending"]


def main() -> None:
    """Start the server process, measure, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=30, help="SEND_RATE; 0 lifts the limits")
    parser.add_argument("--messages", type=int, help="default 3,000 (limits on) or 20,000 (off)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)  # as in pytest
    messages = args.messages or (3_000 if args.rate else 20_000)
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(theirs, messages, args.rate > 0), daemon=True
    )
    server.start()
    base_url = ours.recv()
    with tempfile.TemporaryDirectory() as folder:
        sent, seconds = asyncio.run(measure(args.rate, messages, base_url, Path(folder)))
    ours.send("stop")
    floods, received, most = ours.recv()
    server.join()
    per_second = sent / seconds
    if args.rate:
        target = f">={0.95 * args.rate:.1f}/s (95% of {args.rate}) and 0 429s"
        met = per_second >= 0.95 * args.rate and floods == 0
        share = f" share_of_rate={per_second / args.rate:.1%}"
    else:
        target, met, share = ">=1000/s", per_second >= 1000, ""
    met = met and sent == messages == received and most == 1
    print(  # noqa: T201
        f"sender: send_rate={args.rate} messages={messages} sent={sent} seconds={seconds:.1f} "
        f"messages_per_s={per_second:.1f}{share} 429s={floods} received={received} "
        f"most_copies_per_chat={most} target={target} {'ok' if met else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
