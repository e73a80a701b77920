"""The delivery report of each finished broadcast, sent to its author once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.context import Context, deps
from bot.engine import Connection
from bot.rendering import Renderer
from bot.services import broadcasts
from bot.services.directory import get_locale

log = logging.getLogger(__name__)

REPORT_CHECK_EVERY = timedelta(seconds=30)


async def plan_broadcast_reports(
    db: Connection, renderer: Renderer, *, default_locale: str, now: datetime
) -> int:
    """Queue a report (sent, blocked, failed) for every broadcast whose messages are all final."""
    planned = 0
    for status in await broadcasts.finished_unreported(db):
        locale = await get_locale(db, status.broadcast.author_id) or default_locale
        text = renderer.render(locale, "official/broadcast_report.html", status=status)
        planned += await broadcasts.plan_report(db, status, text, now=now)
    return planned


async def send_broadcast_reports(context: Context) -> None:
    """The repeating job: plan the finished broadcasts' reports and wake the sender."""
    d = deps(context)
    planned = await plan_broadcast_reports(
        d.db, d.renderer, default_locale=d.settings.default_locale, now=d.now()
    )
    sender = context.bot_data.get("sender")
    if planned:
        log.info("planned %d broadcast delivery reports", planned)
        if sender is not None:
            sender.wake()
