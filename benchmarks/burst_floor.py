"""The lowest burst latency any /cek handler could reach on this machine: PTB answering a constant.

`check_latency.py`'s burst (50 accounts send /cek in the same instant, one getUpdates answer hands
them all over) against a bot that does nothing but what python-telegram-bot and the HTTP layer
must do for each update: parse it out of getUpdates, dispatch it to one CommandHandler, send a
fixed reply with a fixed keyboard (`send_message`, the bot's own AiohttpRequest) and parse
Telegram's answer into a `Message`. No database, no template, no conversation, no lockout: what
remains is the floor under the real bot's figure, the same server and the same measurement (the
server, in its own process, notes when it hands each update over and when its answer arrives).

Two bots, each with the same bursts:

- `ptb`: PTB's own concurrent update processing (`concurrent_updates(True)`), one handler.
- `desk`: the same constant handler behind the desk's ChatLines (one line per chat) and its
  HTTP layer's pacer at SEND_RATE 0: the real bot's machinery around a handler.

One line out per bot: the bursts' p50, p99 and max, and the bot's CPU time per check. If even the
constant bot's p99 is over the 50 ms target, no /cek handler written on PTB can meet it in one
process on this machine (benchmarks/RESULTS.md, issue 13).

Usage: .venv/bin/python benchmarks/burst_floor.py [--users 50] [--bursts 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # botapi/ is not installed

from check_latency import TARGET_BURST_P99_MS, TOKEN, Check, _millis, _p99, serve

from bot.http import AiohttpRequest
from bot.ratelimit import PacedRateLimiter, Pacer
from bot.update_lines import ChatLines

# The shape of a real status answer: a few lines of HTML and the link button (the server's
# answer, parsed back into a Message, carries them too).
TEXT = (
    "<b>Status NIK</b>\n"
    "NIK: <code>3505**********01</code>\n"
    "Nama: S**I R*****I\n"
    "Status: <b>AKTIF</b>\n"
    "Perekaman e-KTP: sudah (12 Maret 2019)\n"
    "Ketik /antre untuk membuat janji kunjungan."
)
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Tautkan NIK ini ke akun saya", callback_data="link:0123456789ab")],
        [InlineKeyboardButton("Batal", callback_data="link:no")],
    ]
)


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The constant answer to /cek."""
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, TEXT, parse_mode="HTML", reply_markup=KEYBOARD
    )


def _build(kind: str, base_url: str) -> Application:  # type: ignore[type-arg]
    builder = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(base_url)
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connections=1))
    )
    if kind == "ptb":
        builder = builder.concurrent_updates(True)
    else:
        builder = builder.concurrent_updates(ChatLines())
        builder = builder.rate_limiter(PacedRateLimiter(Pacer(0), max_retries=3))
    app = builder.build()
    app.add_handler(CommandHandler("cek", answer))
    return app


async def _run_bot(kind: str, base_url: str, pipe: Connection) -> tuple[object, float]:
    app = _build(kind, base_url)
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=10)
    await app.start()
    gc.freeze()  # as the bot does after start-up (bot/app.py)
    loop = asyncio.get_running_loop()
    try:
        pipe.send("go")
        cpu = time.process_time()
        outcome = await loop.run_in_executor(None, pipe.recv)
        return outcome, time.process_time() - cpu
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def measure(kind: str, users: int, bursts: int) -> str:
    """Run the server (its own process) and one bot; summarize the bursts."""
    checks: list[Check] = [
        (f"35051{n:011d}", f"35051{n + 7:011d}", True) for n in range(2 * users)
    ]  # the steady phase before the bursts: each user slot checks flat out, twice on average
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(theirs, checks, users, 0.0, bursts), daemon=True
    )
    server.start()
    base_url = ours.recv()
    (results, _elapsed, crowd, errors), cpu = asyncio.run(_run_bot(kind, base_url, ours))
    ours.send("stop")
    server.join()
    burst = _millis(crowd) or [0.0]
    p99 = _p99(burst)
    return (
        f"burst_floor: bot={kind} burst_checks={len(crowd)} "
        f"burst_p50_ms={statistics.median(burst):.1f} burst_p99_ms={p99:.1f} "
        f"burst_max_ms={burst[-1]:.1f} "
        f"bot_cpu_ms_per_check={cpu * 1000 / (len(results) + len(crowd)):.2f} "
        f"api_errors={errors} target=burst_p99<={TARGET_BURST_P99_MS:.0f}ms "
        f"{'ok' if p99 <= TARGET_BURST_P99_MS and not errors else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="accounts in each burst")
    parser.add_argument("--bursts", type=int, default=10)
    args = parser.parse_args()
    for kind in ("ptb", "desk"):
        print(measure(kind, args.users, args.bursts))  # noqa: T201


if __name__ == "__main__":
    main()
