"""Scheduled jobs. Each is thin: a planner asks a service what is due and writes it to the
outbox; the sender (bot/jobs/sender.py) delivers it within Telegram's limits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import time, timedelta
from typing import Any

from telegram.ext import Application

from bot.config import TIMEZONE
from bot.context import Context, deps
from bot.jobs.alerts import ALERT_CHECK_EVERY, check_alerts
from bot.jobs.broadcasts import REPORT_CHECK_EVERY, send_broadcast_reports
from bot.jobs.housekeeping import (
    CONVERSATIONS_EVERY,
    FORGET_EVERY,
    end_expired_conversations,
    forget_stale_user_data,
)
from bot.jobs.queue import expire_waitlist_offers
from bot.jobs.registry import JobSpec, all_jobs, missed_slots, run_planner
from bot.services.health import record_job_outcome
from bot.storage import job_runs

log = logging.getLogger(__name__)

OFFER_CHECK_EVERY = timedelta(seconds=30)
CATCH_UP_EVERY = timedelta(minutes=1)  # several workers: missed slots looked for this often
# APScheduler drops a run that starts more than misfire_grace_time late (1 s by default): a busy
# event loop must never silently lose a day's reminders, so a late run still runs, once.
NEVER_DROP = {"misfire_grace_time": None, "coalesce": True}
# Jobs that run every so often rather than at a time of day: (callback, interval, name).
REPEATING = (
    (expire_waitlist_offers, OFFER_CHECK_EVERY, "waitlist-offer-expiry"),
    (send_broadcast_reports, REPORT_CHECK_EVERY, "broadcast-reports"),
    (forget_stale_user_data, FORGET_EVERY, "forget-stale-user-data"),
    (end_expired_conversations, CONVERSATIONS_EVERY, "conversations"),
)


def schedule_jobs(app: Application) -> None:
    """Put the recurring jobs on PTB's JobQueue (APScheduler), in WIB, and catch up."""
    assert app.job_queue is not None
    repeating = list(REPEATING)
    if app.bot_data.get("watch"):  # the admins' alerts: in `dukcapil-bot run` only
        repeating.append((check_alerts, ALERT_CHECK_EVERY, "alerts"))
    for callback, every, name in repeating:
        app.job_queue.run_repeating(
            _watched(callback, name), interval=every, first=every, name=name, job_kwargs=NEVER_DROP
        )
    for spec in all_jobs():
        for at in spec.times:
            wib = at.replace(tzinfo=TIMEZONE)
            run = _scheduled(spec, at)
            app.job_queue.run_daily(run, time=wib, name=spec.slot(at), job_kwargs=NEVER_DROP)
    if app.bot_data.get("worker") is None:
        app.job_queue.run_once(catch_up, when=0, name="catch-up", job_kwargs=NEVER_DROP)
    else:  # several workers: a slot whose worker died half-way is run by another
        app.job_queue.run_repeating(
            catch_up, interval=CATCH_UP_EVERY, first=0, name="catch-up", job_kwargs=NEVER_DROP
        )


def _watched(
    callback: Callable[[Context], Coroutine[Any, Any, None]], name: str
) -> Callable[[Context], Coroutine[Any, Any, None]]:
    """The repeating job, its outcome recorded for /metrics and the admins' alert."""

    async def run(context: Context) -> None:
        worker = context.bot_data.get("worker")
        if worker is not None and not worker.sending:  # several workers: the sender's work
            return
        d = deps(context)
        try:
            await callback(context)
        except Exception as error:
            await record_job_outcome(d.db, name, now=d.now(), error=error)
            raise
        await record_job_outcome(d.db, name, now=d.now())

    run.__name__ = callback.__name__
    return run


def _scheduled(spec: JobSpec, at: time) -> Callable[[Context], Coroutine[Any, Any, None]]:
    async def run(context: Context) -> None:
        await run_slot(context, spec, at)

    run.__name__ = spec.slot(at).replace("-", "_").replace("@", "_at_").replace(":", "")
    return run


async def run_slot(context: Context, spec: JobSpec, at: time) -> int:
    """Run one job slot for today (WIB) and wake the sender. With several workers, under the
    slot's lock (bot/leases.py): one runs it, the others find it held, or done already."""
    worker = context.bot_data.get("worker")
    if worker is None:
        return await _run_slot(context, spec, at)
    async with worker.job_slot(spec.slot(at)) as mine:
        d = deps(context)
        if not mine or await job_runs.last_day(d.db, spec.slot(at)) == d.today():
            return 0
        return await _run_slot(context, spec, at)


async def _run_slot(context: Context, spec: JobSpec, at: time) -> int:
    d = deps(context)
    planned = await run_planner(
        spec, at, db=d.db, renderer=d.renderer, settings=d.settings, day=d.today(), now=d.now()
    )
    log.info("job %s planned %d messages", spec.slot(at), planned)
    sender = context.bot_data.get("sender")
    if sender is not None and planned:
        sender.wake()
    return planned


async def catch_up(context: Context) -> None:
    """At start-up: run today's slots whose time passed while the bot was down."""
    d = deps(context)
    for spec, at in await missed_slots(d.db, d.now()):
        log.info("catching up job %s missed today", spec.slot(at))
        try:
            await run_slot(context, spec, at)
        except Exception:
            log.exception("catching up job %s failed", spec.slot(at))
