"""Scheduled jobs. Each is thin: ask a service what is due, then send it."""

from __future__ import annotations

from datetime import time, timedelta

from telegram.ext import Application

from bot.config import TIMEZONE
from bot.jobs.queue import expire_waitlist_offers, sweep_no_shows

NO_SHOW_SWEEP_AT = time(23, 30, tzinfo=TIMEZONE)  # day's end, whatever a point's hours are
OFFER_CHECK_EVERY = timedelta(seconds=30)


def schedule_jobs(app: Application) -> None:
    """Put the recurring jobs on PTB's JobQueue (APScheduler), in WIB."""
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        expire_waitlist_offers, interval=OFFER_CHECK_EVERY, first=OFFER_CHECK_EVERY,
        name="waitlist-offer-expiry",
    )  # fmt: skip
    app.job_queue.run_daily(sweep_no_shows, time=NO_SHOW_SWEEP_AT, name="no-show-sweep")
