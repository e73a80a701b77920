"""Scheduled jobs. Each is thin: a planner asks a service what is due and writes it to the
outbox; the sender (bot/jobs/sender.py) delivers it within Telegram's limits."""

from __future__ import annotations

import logging
from datetime import time, timedelta

from telegram.ext import Application

from bot.config import TIMEZONE
from bot.context import Context, deps
from bot.jobs.broadcasts import REPORT_CHECK_EVERY, send_broadcast_reports
from bot.jobs.housekeeping import FORGET_EVERY, forget_stale_user_data
from bot.jobs.queue import expire_waitlist_offers
from bot.jobs.registry import JobSpec, all_jobs, missed_slots, run_planner

log = logging.getLogger(__name__)

OFFER_CHECK_EVERY = timedelta(seconds=30)
# APScheduler drops a run that starts more than misfire_grace_time late (1 s by default): a busy
# event loop must never silently lose a day's reminders, so a late run still runs, once.
NEVER_DROP = {"misfire_grace_time": None, "coalesce": True}


def schedule_jobs(app: Application) -> None:
    """Put the recurring jobs on PTB's JobQueue (APScheduler), in WIB, and catch up."""
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        expire_waitlist_offers, interval=OFFER_CHECK_EVERY, first=OFFER_CHECK_EVERY,
        name="waitlist-offer-expiry", job_kwargs=NEVER_DROP,
    )  # fmt: skip
    app.job_queue.run_repeating(
        send_broadcast_reports, interval=REPORT_CHECK_EVERY, first=REPORT_CHECK_EVERY,
        name="broadcast-reports", job_kwargs=NEVER_DROP,
    )  # fmt: skip
    app.job_queue.run_repeating(
        forget_stale_user_data, interval=FORGET_EVERY, first=FORGET_EVERY,
        name="forget-stale-user-data", job_kwargs=NEVER_DROP,
    )  # fmt: skip
    for spec in all_jobs():
        for at in spec.times:
            app.job_queue.run_daily(
                _scheduled(spec, at), time=at.replace(tzinfo=TIMEZONE), name=spec.slot(at),
                job_kwargs=NEVER_DROP,
            )  # fmt: skip
    app.job_queue.run_once(catch_up, when=0, name="catch-up", job_kwargs=NEVER_DROP)


def _scheduled(spec: JobSpec, at: time):  # type: ignore[no-untyped-def]
    async def run(context: Context) -> None:
        await run_slot(context, spec, at)

    run.__name__ = spec.slot(at).replace("-", "_").replace("@", "_at_").replace(":", "")
    return run


async def run_slot(context: Context, spec: JobSpec, at: time) -> int:
    """Run one job slot for today (WIB) and wake the sender."""
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
