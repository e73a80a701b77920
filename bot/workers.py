"""Several `dukcapil-bot run` workers on one PostgreSQL database (issue 15, part 3).

`run` with DATABASE_URL serves through `serve` instead of PTB's run_polling; docs/postgresql.md
says what each guarantee rests on. In short:

- Updates go through the database (bot/services/inbox.py): the one worker holding the polling
  lock polls getUpdates (in webhook mode, any worker receives), stores each update before
  Telegram is told it arrived, and every worker handles updates from the inbox, holding a chat's
  line while it has that chat's updates in hand (in update_id order, through its ChatLines) and
  deleting each once its turn is over. A worker killed with updates in hand stops renewing its
  claims; after LEASE another worker takes those lines over, in order; an update handled
  already is known by processed_updates and not handled again.
- The sending budget: every message of every worker takes its moment from one row in the
  database (`SharedBudget`, bot/services/send_budget.py) and reports it done once Telegram has
  answered: never more than SEND_RATE within a second in all, however late a worker sends;
  replies take the next moment, the outbox only one that is free now. Each worker beats every
  BEAT seconds into `workers` (who is alive; its claims renewed).
- The outbox: one sender at a time (the SENDING lock, bot/leases.py), which also runs the
  repeating housekeeping jobs; each daily job slot under a lock of its own (bot/jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot import postgres
from bot.app import stop_sender
from bot.config import Settings
from bot.leases import POLLING, SENDING, Leases
from bot.services import inbox, send_budget
from bot.services.inbox import Received
from bot.signals import serve_until_signalled
from bot.update_lines import line_key

log = logging.getLogger(__name__)

BEAT = 2.0  # seconds between heartbeats (claims renewed)
LEASE = timedelta(seconds=8)  # a dead worker's chats are taken over after at most this
ALIVE = timedelta(seconds=6)  # a worker not seen for this long is counted dead
POLL_TIMEOUT = 5  # seconds of each long poll (the leader checks its lock between polls)
READ_EVERY = 0.2  # seconds between looks at the inbox when nothing woke the reader
MAX_LINES = 200  # chats in hand at once
CLAIM_LINES = 10  # chats claimed at a time (then the others' turn: work spreads among workers)
STOP_GRACE = 10.0  # seconds a stop waits for the updates in hand


class SharedBudget:
    """The Pacer's overall moments from the database (bot/ratelimit.py's SharedBudget), on a
    connection of its own: never inside a handler's transaction.

    A send is reported done at the moment its answer came, on the server's clock: this
    process's clock plus `offset`, which is never less than the true difference (the server's
    clock read after this one), so the moment reported is never earlier than the true one. The
    reports are written a batch at a time (one write for those that came meanwhile): until its
    report is written a send counts as not answered, which only holds the budget longer."""

    def __init__(self, db: postgres.PostgresConnection, rate: int) -> None:
        self.db, self.rate = db, rate
        self.offset = 0.0
        self._answered: dict[int, float | None] = {}
        self._writing: asyncio.Task[None] | None = None

    async def take(self, *, background: bool) -> tuple[int | None, float]:
        before = time.monotonic()
        turn = await send_budget.take(self.db, rate=self.rate, background=background)
        self.offset = turn.now - before
        return turn.grant, turn.wait

    async def done(self, grant: int) -> None:
        self._answered[grant] = time.monotonic() + self.offset
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write())

    async def close(self) -> None:
        """Write the reports still waiting."""
        if self._writing is not None:
            await self._writing

    async def _write(self) -> None:
        while self._answered:
            batch, self._answered = self._answered, {}
            try:
                await send_budget.done_many(self.db, batch)
            except Exception:  # those grants are given up after LOST_AFTER; sending goes on
                log.exception("reporting sends done to the shared budget failed")


class Worker:
    """One worker's part: heartbeat, polling (when it holds the lock), handling, sending."""

    def __init__(self, app: Application, settings: Settings, leases: Leases) -> None:
        self.app, self.settings, self.leases = app, settings, leases
        self.id = f"{socket.gethostname()}:{os.getpid()}"[-64:]
        self.sending = False  # holds the SENDING lock
        self.lost = False  # its locks' session ended under it
        self.alive = 1  # workers seen at the last beat
        self._wake = asyncio.Event()
        self._in_hand: dict[int, int] = {}  # line -> its updates in hand
        self._handling: set[asyncio.Task[None]] = set()

    @property
    def db(self) -> Any:
        return self.app.bot_data["db"]

    def job_slot(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Hold a daily job slot's lock while it runs; yields False if another worker runs it."""
        return self.leases.job_slot(name)

    async def sender_turn(self) -> None:
        """Wait until this worker may send the outbox (the Sender calls it before starting)."""
        await self.leases.hold(SENDING, what="sends the outbox")
        self.sending = True

    async def receive(self, updates: list[Update]) -> None:
        """Store updates in the inbox (before Telegram is told they arrived); wake the reader."""
        rows = [Received(u.update_id, line_key(u) or 0, u.to_json()) for u in updates]
        await inbox.receive(self.db, rows, now=_now())
        self._wake.set()

    async def beat(self, stop: asyncio.Event) -> None:
        """Every BEAT seconds: alive, claims renewed; stop if the locks are lost."""
        while True:
            try:
                await self.leases.check()
            except psycopg.OperationalError:
                log.critical("lost the database session holding this worker's locks: stopping")
                self.lost = True
                stop.set()
                return
            try:
                self.alive = await inbox.beat(
                    self.db, self.id, now=_now(), lease=LEASE, alive=ALIVE
                )
            except Exception:
                log.exception("worker heartbeat failed; trying again")
            await asyncio.sleep(BEAT)

    async def poll(self) -> None:
        """Once this worker holds the polling lock: getUpdates, store, confirm, forever."""
        await self.leases.hold(POLLING, what="polls Telegram")
        bot = self.app.bot
        await bot.delete_webhook()
        offset: int | None = None
        try:
            while True:
                try:
                    updates = await bot.get_updates(offset=offset, timeout=POLL_TIMEOUT)
                except TelegramError as error:
                    log.warning("getUpdates failed (%s); trying again", error)
                    await asyncio.sleep(1.0)
                    continue
                if updates:
                    await self.receive(list(updates))
                    offset = updates[-1].update_id + 1  # confirmed by the next getUpdates
        finally:  # stopped: what was stored is confirmed (no long poll), as PTB's Updater does
            if offset is not None:
                with contextlib.suppress(TelegramError):
                    await bot.get_updates(offset=offset, timeout=0)

    async def read(self) -> None:
        """Claim chats' waiting updates and hand them to the Application, forever."""
        while True:
            self._wake.clear()
            claimed: list[Received] = []
            if (room := min(MAX_LINES - len(self._in_hand), CLAIM_LINES)) > 0:
                try:
                    claimed = await inbox.claim(
                        self.db, self.id, lines=room, now=_now(), lease=LEASE
                    )
                except Exception:
                    log.exception("claiming updates failed; trying again")
            for received in claimed:
                self._start(received)
            # then the other workers' turn: a burst of chats is spread among them
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), READ_EVERY)

    def _start(self, received: Received) -> None:
        update = Update.de_json(json.loads(received.body), self.app.bot)
        self._in_hand[received.line] = self._in_hand.get(received.line, 0) + 1
        task = asyncio.create_task(self._handle(received, update))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, received: Received, update: Update) -> None:
        """Handle one update in its chat's line, then drop it from the inbox."""
        app = self.app
        try:
            await app.update_processor.process_update(update, app.process_update(update))
        except Exception:
            log.exception("update %s failed", received.update_id)
        try:
            await _retrying(inbox.done, self.db, received.update_id)
        finally:
            left = self._in_hand[received.line] - 1
            if left:
                self._in_hand[received.line] = left
            else:
                del self._in_hand[received.line]

    async def finish(self) -> None:
        """At a stop: the updates in hand finish (at most STOP_GRACE), the rest is given up
        for the other workers."""
        if self._handling:
            await asyncio.wait(self._handling, timeout=STOP_GRACE)
        for task in self._handling:
            task.cancel()
        with contextlib.suppress(Exception):
            await inbox.leave(self.db, self.id)


async def _retrying(work: Any, *args: Any) -> None:
    """Run a database write until it succeeds (a dropped row would be handled again)."""
    for pause in (0.1, 0.5, 1.0, 2.0, 5.0):
        try:
            await work(*args)
            return
        except Exception:
            log.exception("writing to the inbox failed; trying again")
            await asyncio.sleep(pause)
    await work(*args)


def _now() -> datetime:
    """Leases and heartbeats run on the machines' clocks (kept in step by NTP), never a test's."""
    return datetime.now(UTC)


async def serve(application: Application, settings: Settings, stop: asyncio.Event) -> None:
    """Run one worker until `stop` is set, with run_polling's lifecycle (initialize, post_init,
    start, ..., stop, post_stop, shutdown, post_shutdown); in webhook mode with WEBHOOK_URL."""
    leases = await Leases.open(settings.database_url)
    budget = await postgres.connect(settings.database_url, settings.secret_key)
    shared = application.bot_data["pacer"].shared = SharedBudget(budget, settings.send_rate)
    worker = application.bot_data["worker"] = Worker(application, settings, leases)
    try:
        await application.initialize()
        try:
            if application.post_init is not None:
                await application.post_init(application)
            async with _receiving(application, worker, settings):
                await application.start()
                await _work(worker, stop)
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
        finally:
            await application.shutdown()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)
    finally:
        await shared.close()
        await budget.close()
        await leases.close()


async def _work(worker: Worker, stop: asyncio.Event) -> None:
    loops = [worker.beat(stop), worker.read()]
    if not worker.settings.webhook_url:
        loops.append(worker.poll())
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The sender stops at once, beside the updates in hand finishing (as DeskApplication's
        # stop does): it takes no new batch while a handler waits for Telegram.
        await asyncio.gather(worker.finish(), stop_sender(worker.app))


@contextlib.asynccontextmanager
async def _receiving(app: Application, worker: Worker, settings: Settings) -> AsyncIterator[None]:
    """In webhook mode: the HTTP server storing updates in the inbox, while the worker runs."""
    if not settings.webhook_url:
        yield
        return
    from bot.webhook import webhook_app

    runner = web.AppRunner(webhook_app(app, settings.webhook_secret, deliver=worker.receive))
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_listen, settings.webhook_port).start()
        await app.bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret)
        log.info("webhook served on %s:%s", settings.webhook_listen, settings.webhook_port)
        yield
    finally:
        await runner.cleanup()


def run_worker(application: Application, settings: Settings) -> int:
    """Serve as one of several workers until SIGINT or SIGTERM; the exit code (1: the locks'
    session was lost, for the service manager to start the worker again)."""
    serve_until_signalled(lambda stop: serve(application, settings, stop))
    worker = application.bot_data.get("worker")
    return 1 if worker is not None and worker.lost else 0
