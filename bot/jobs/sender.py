"""The outbox sender: claims due messages, sends them within Telegram's limits, records each end.

`send_due` sends one batch (the JobQueue-free core, also used by `run-job` and the tests);
`Sender` is the background loop the running bot keeps draining the outbox with. A batch is sent
concurrently, each message waiting for its moment from the shared `Pacer`; each send's outcome is
written as soon as it is known, before its chat's next message goes (`Recorder`: the outcomes
that arrive while one write is under way share the next transaction). A crash leaves only the
sends Telegram had not answered (and those not tried yet) 'sending': at start-up those go back to
the queue, so only the requests in flight at the crash are sent twice and nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import psycopg
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.clock import Clock
from bot.engine import Connection
from bot.ratelimit import Pacer, retry_after_seconds
from bot.services import outbox
from bot.services.outbox import QUIET_HOURS, OutboxMessage, Outcome, QuietHours

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply
_MARKUPS: dict[str, type[Markup]] = {
    "inline_keyboard": InlineKeyboardMarkup,
    "keyboard": ReplyKeyboardMarkup,
    "remove_keyboard": ReplyKeyboardRemove,
    "force_reply": ForceReply,
}
MAX_BACKOFF = timedelta(seconds=60)
MAX_INLINE_WAIT = 1.0  # seconds a batch may wait for one chat; longer goes back to the queue
RECORD_RETRY_CAP = 10.0  # seconds between attempts to record a batch's outcomes
UNLIMITED_BATCH = 50  # claimed at once with limits off: also the most re-sent after a crash
IDLE_POLL = 1.0  # seconds between looks at an empty outbox (planners also wake the sender)
HEARTBEAT_BOUND = 300.0  # seconds without a turn of the loop after which /healthz says stuck
STOP_GRACE = 7.0  # seconds a stop waits for Telegram to answer the sends in flight


async def send_due(
    bot: Bot,
    db: Connection,
    *,
    now: datetime,
    limit: int = 30,
    pacer: Pacer | None = None,
    quiet: QuietHours = QUIET_HOURS,
) -> int:
    """Send up to `limit` due outbox messages concurrently; return how many were delivered."""
    _claimed, sent = await send_batch(bot, db, now=now, limit=limit, pacer=pacer, quiet=quiet)
    return sent


async def send_batch(
    bot: Bot,
    db: Connection,
    *,
    now: datetime,
    limit: int,
    pacer: Pacer | None = None,
    quiet: QuietHours = QUIET_HOURS,
    stopping: asyncio.Event | None = None,
) -> tuple[int, int]:
    """One batch: return (messages claimed, messages delivered). Once `stopping` is set, no
    message is sent any more: those not sent yet go back to the queue untried."""
    batch = await outbox.claim_due(db, now=now, limit=limit, quiet=quiet)
    if not batch:
        return 0, 0
    by_chat: dict[int, list[OutboxMessage]] = {}
    for message in batch:
        by_chat.setdefault(message.chat_id, []).append(message)
    recorder = Recorder(db, now=now)
    per_chat = await asyncio.gather(
        *(_send_to_chat(bot, ms, pacer, recorder, stopping) for ms in by_chat.values())
    )
    return len(batch), sum(outcome.state == "sent" for outcomes in per_chat for outcome in outcomes)


class Recorder:
    """Writes a batch's outcomes as they come; `record` returns once its outcome is committed.

    Outcomes that arrive while a write is under way wait for it and then go together in one
    transaction (a group commit): one per send when sends are few, a few per transaction when
    hundreds a second finish, so the commits never hold the shared connection for long.
    """

    def __init__(self, db: Connection, *, now: datetime) -> None:
        self.db, self.now = db, now
        self._waiting: list[tuple[OutboxMessage, Outcome, asyncio.Future[None]]] = []
        self._writing = asyncio.Lock()

    async def record(self, message: OutboxMessage, outcome: Outcome) -> None:
        """Write this outcome (with any others waiting); raise what the write raised."""
        written = asyncio.get_running_loop().create_future()
        self._waiting.append((message, outcome, written))
        async with self._writing:
            if not written.done():  # no write took it along while we waited
                await self._write_waiting()
        written.result()

    async def _write_waiting(self) -> None:
        group, self._waiting = self._waiting, []
        try:
            await _record(self.db, [(m, outcome) for m, outcome, _ in group], now=self.now)
        except BaseException:
            for _m, _outcome, written in group:
                written.cancel()
            raise
        for _m, _outcome, written in group:
            written.set_result(None)


async def _record(
    db: Connection, results: list[tuple[OutboxMessage, Outcome]], *, now: datetime
) -> None:
    """Write outcomes, retrying while the database is busy (a long import holds it): dropping
    them would leave delivered messages 'sending', to be sent again at restart."""
    for attempt in itertools.count(1):
        try:
            await outbox.record_outcomes(db, results, now=now)
            return
        except (aiosqlite.OperationalError, psycopg.OperationalError) as error:
            log.warning("outbox sender: recording outcomes failed (%s); retrying", error)
            await asyncio.sleep(min(2.0**attempt, RECORD_RETRY_CAP))


async def _send_to_chat(
    bot: Bot,
    messages: list[OutboxMessage],
    pacer: Pacer | None,
    recorder: Recorder,
    stopping: asyncio.Event | None,
) -> list[Outcome]:
    """One chat's messages of a batch, in order, each outcome recorded before the next is
    sent; after a 403 the rest are not even tried.

    A chat that may not receive for a while (a group past 20 a minute) does not hold the batch:
    its messages go back to the queue until then.
    """
    outcomes: list[Outcome] = []
    for message in messages:
        previous = outcomes[-1] if outcomes else None
        outcome = await _outcome(bot, message, pacer, previous, stopping)
        await recorder.record(message, outcome)
        outcomes.append(outcome)
    return outcomes


async def _outcome(
    bot: Bot,
    message: OutboxMessage,
    pacer: Pacer | None,
    previous: Outcome | None,
    stopping: asyncio.Event | None,
) -> Outcome:
    """Send the message, unless its chat's previous one was blocked or put off, or the sender
    stops before the message's moment comes (then it goes back to the queue untried)."""
    if previous is not None and previous.state in ("blocked", "later"):
        return previous
    wait = pacer.chat_wait(message.chat_id) if pacer is not None else 0.0
    if wait > MAX_INLINE_WAIT:
        return Outcome("later", delay=timedelta(seconds=wait))
    if stopping is not None and stopping.is_set():
        return Outcome("later")
    if pacer is None:
        return await _send_one(bot, message, None)
    taken, grant = await _paced(pacer, message.chat_id, stopping)
    if not taken:
        return Outcome("later")
    try:
        return await _send_one(bot, message, pacer)
    finally:
        await pacer.release(grant)


async def _paced(
    pacer: Pacer, chat_id: int, stopping: asyncio.Event | None
) -> tuple[bool, int | None]:
    """Take the message's moment from the pacer (and its grant of a shared budget, for
    `Pacer.release`); False if the sender stops while it waits."""
    if stopping is None or pacer.background_wait(chat_id) <= 0:
        return True, await pacer.acquire(chat_id, background=True)
    turn = asyncio.ensure_future(pacer.acquire(chat_id, background=True))
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((turn, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        turn.cancel()  # nothing if it got its moment
        await asyncio.wait((turn,))
    if turn.cancelled():
        return False, None
    return True, turn.result()


async def _send_one(bot: Bot, message: OutboxMessage, pacer: Pacer | None) -> Outcome:
    """Send one claimed message (its moment taken already) and say how it ended (nothing is
    written here)."""
    try:
        markup = _markup(message.reply_markup_json, bot)
        if message.edit_message_id is not None:
            return await _edit(bot, message, markup)
        if message.file is not None:
            result = await _send_file(bot, message, markup)
        else:
            result = await bot.send_message(
                message.chat_id,
                message.text,
                parse_mode="HTML",
                reply_markup=markup,
                **_paced_already(bot),
            )
    except Forbidden:
        return Outcome("blocked", error="chat blocked the bot")
    except RetryAfter as error:
        seconds = retry_after_seconds(error)
        if pacer is not None:
            pacer.flooded(message.chat_id, seconds)
        return Outcome("retry", error=str(error), delay=timedelta(seconds=seconds))
    except BadRequest as error:  # a subclass of NetworkError: check it first
        return Outcome("failed", error=str(error))
    except NetworkError as error:  # timeouts, dropped connections, 5xx
        return Outcome(
            "retry", error=str(error) or type(error).__name__, delay=backoff(message.attempts)
        )
    except (TelegramError, ValueError) as error:
        log.warning("outbox message %s failed: %s", message.id, error)
        return Outcome("failed", error=str(error) or type(error).__name__)
    return Outcome("sent", telegram_message_id=result.message_id)


async def _send_file(bot: Bot, message: OutboxMessage, markup: Markup | None) -> Message:
    """Send the message's photo or document, its text as the caption."""
    assert message.file is not None
    send = bot.send_photo if message.file.kind == "photo" else bot.send_document
    return await send(
        message.chat_id,
        InputFile(message.file.content, filename=message.file.name),
        caption=message.text,
        parse_mode="HTML",
        reply_markup=markup,
        **_paced_already(bot),
    )


async def _edit(bot: Bot, message: OutboxMessage, markup: Markup | None) -> Outcome:
    """Replace the text (and buttons: none if `markup` is None) of a message sent before."""
    assert message.edit_message_id is not None
    assert markup is None or isinstance(markup, InlineKeyboardMarkup)  # what an edit may carry
    try:
        await bot.edit_message_text(
            message.text,
            chat_id=message.chat_id,
            message_id=message.edit_message_id,
            parse_mode="HTML",
            reply_markup=markup,
            **_paced_already(bot),
        )
    except BadRequest as error:
        if "not modified" not in str(error).lower():  # it already says this: done
            raise
    return Outcome("sent", telegram_message_id=message.edit_message_id)


def backoff(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failed attempt: 2, 4, 8 ... seconds, at most a minute."""
    return min(timedelta(seconds=2 ** min(max(attempts, 1), 10)), MAX_BACKOFF)


def _paced_already(bot: Bot) -> dict[str, Any]:
    """Tell the Application's PacedRateLimiter that this call has been paced already."""
    if getattr(bot, "rate_limiter", None) is None:
        return {}
    return {"rate_limit_args": {"paced": True}}


def _markup(markup_json: str | None, bot: Bot) -> Markup | None:
    """The stored reply_markup JSON as a PTB object; ValueError if it is not one."""
    if markup_json is None:
        return None
    data = json.loads(markup_json)
    kind = next((key for key in _MARKUPS if isinstance(data, dict) and key in data), None)
    if kind is None:
        raise ValueError(f"unsupported reply_markup: {markup_json[:80]}")
    return _MARKUPS[kind].de_json(data, bot)


@contextlib.contextmanager
def sender_lock(database_path: Path) -> Iterator[bool]:
    """Hold the one-sender-per-database lock if free; yields whether we got it.

    The running bot holds it for its whole life, so `run-job` knows whether to deliver itself.
    The operating system releases it when the process dies, even by SIGKILL.
    """
    path = Path(f"{database_path}.sender.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Sender:
    """The running bot's background loop draining the outbox; `wake()` after planning."""

    def __init__(
        self,
        bot: Bot,
        db: Connection,
        clock: Clock,
        *,
        pacer: Pacer,
        quiet: QuietHours,
    ) -> None:
        self.bot, self.db, self.clock = bot, db, clock
        self.pacer, self.quiet = pacer, quiet
        self.batch = pacer.rate if pacer.limited else UNLIMITED_BATCH
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._sending = False  # a batch is in hand
        self._task: asyncio.Task[None] | None = None
        self._lock = contextlib.ExitStack()
        self._beat = time.monotonic()  # the loop's last turn

    def start(
        self,
        database_path: Path | None = None,
        *,
        turn: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Start draining in the background, once it holds the database's sender lock: the
        file lock beside `database_path` (SQLite), or what `turn` waits for (several workers on
        PostgreSQL: bot/workers.py's advisory lock, one sender among them)."""
        if self._task is None:
            self._stopping.clear()  # started again after a stop
            self._task = asyncio.create_task(self._run(database_path, turn), name="outbox-sender")

    async def stop(self) -> None:
        """Stop sending: the sends in flight finish and are recorded, the batch's messages not
        sent yet go back to the queue. Past STOP_GRACE seconds (Telegram not answering) the
        batch is cut short: what it had in flight is sent again at the next start."""
        if self._task is not None:
            self._stopping.set()
            if self._sending:
                log.info("outbox sender: stopping, waiting for the sends in flight")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            log.info("outbox sender: stopped")
        self._lock.close()

    def alive(self) -> bool:
        """Whether the loop runs and has turned within HEARTBEAT_BOUND (a batch, or a wait)."""
        running = self._task is not None and not self._task.done()
        return running and time.monotonic() - self._beat < HEARTBEAT_BOUND

    def wake(self) -> None:
        """New messages were planned: look at the outbox now."""
        self._wake.set()

    async def _take_over(
        self, database_path: Path | None, turn: Callable[[], Awaitable[None]] | None
    ) -> None:
        """Hold the sender lock (waiting while `run-job` or another worker delivers), then
        re-queue what a crash left 'sending': only the one sender may decide that nothing else
        is sending it."""
        if turn is not None:
            await turn()
        elif database_path is not None:
            waited = False
            while not self._lock.enter_context(sender_lock(database_path)):
                self._lock.close()
                if not waited:
                    log.warning("another process is sending for this database; waiting for it")
                    waited = True
                self._beat = time.monotonic()
                await asyncio.sleep(IDLE_POLL)
        in_flight = await outbox.requeue_in_flight(self.db)
        if in_flight:
            log.warning(
                "re-queued %d outbox messages that were being sent at the last stop", in_flight
            )

    async def _run(
        self, database_path: Path | None, turn: Callable[[], Awaitable[None]] | None
    ) -> None:
        await self._take_over(database_path, turn)
        while not self._stopping.is_set():
            self._beat = time.monotonic()
            self._wake.clear()
            try:
                self._sending = True
                handled, _sent = await send_batch(
                    self.bot,
                    self.db,
                    now=self.clock.now(),
                    limit=self.batch,
                    pacer=self.pacer,
                    quiet=self.quiet,
                    stopping=self._stopping,
                )
            except Exception:  # the loop must outlive any one bad batch
                log.exception("outbox sender: a batch failed; retrying shortly")
                handled = 0
                await asyncio.sleep(IDLE_POLL)
            finally:
                self._sending = False
            if handled:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL)
