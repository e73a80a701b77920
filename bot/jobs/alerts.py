"""The admins' alerts, evaluated every minute (bot/services/alerts.py says which and when).

Alerts are sent straight to each admin, not through the outbox: "the outbox is stuck" must reach
them even when the outbox is. A notice the Bot API did not take is tried again the next minute;
an admin who blocked the bot is skipped.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from types import SimpleNamespace

from telegram.error import BadRequest, Forbidden, TelegramError

from bot.context import Context, chat_locale, deps
from bot.domain import Incident
from bot.services import alerts
from bot.services.health import gather_figures
from bot.services.roles import accounts_with_role

log = logging.getLogger(__name__)

ALERT_CHECK_EVERY = timedelta(minutes=1)


async def check_alerts(context: Context) -> None:
    """Open and close incidents as the conditions hold, and tell the admins of each once."""
    d = deps(context)
    now = d.now()
    readings = await _readings(context, now)
    await alerts.update_incidents(d.db, alerts.holding(readings, d.settings, now=now), now=now)
    admins = await accounts_with_role(d.db, "admin")
    for incident in await alerts.untold(d.db):
        for over in (False, True) if incident.closed_at else (False,):
            if (incident.close_notified_at if over else incident.open_notified_at) is not None:
                continue
            if not await _tell(context, admins, incident, over=over):
                return  # Telegram did not take it: the next run tries again
            await alerts.told(d.db, incident, over=over, now=d.now())


async def _readings(context: Context, now: datetime) -> alerts.Readings:
    d = deps(context)
    figures = await gather_figures(d.db, now=now, quiet=d.settings.quiet_hours)
    metrics = context.bot_data.get("metrics")
    down = metrics.telegram.unreachable_for() if metrics is not None else 0.0
    disk = shutil.disk_usage(d.settings.database_path.resolve().parent)
    return alerts.Readings(figures, timedelta(seconds=down), disk.free, disk.total)


async def _tell(context: Context, admins: list[int], incident: Incident, *, over: bool) -> bool:
    """Send the notice to every admin; False when the Bot API did not answer."""
    d = deps(context)
    settings = d.settings
    limits = SimpleNamespace(
        outbox_minutes=int(settings.alert_outbox_late.total_seconds() // 60),
        telegram_minutes=int(settings.alert_telegram_down.total_seconds() // 60),
        backup_hours=int(settings.alert_backup_age.total_seconds() // 3600),
        disk_percent=settings.alert_disk_free_percent,
        disk_gb=settings.alert_disk_free_bytes // 10**9,
    )
    for chat_id in admins:
        locale = await chat_locale(context, chat_id)
        text = d.renderer.render(
            locale, "admin/alert.html", incident=incident, over=over, limits=limits
        )
        try:
            await context.bot.send_message(chat_id, text, parse_mode="HTML")
        except (Forbidden, BadRequest):
            log.warning("an admin could not be alerted (blocked the bot, or no chat)")
        except TelegramError as error:
            log.warning("alert not sent (%s); trying again in a minute", type(error).__name__)
            return False
    log.info("admins told: %s incident %s", incident.kind, "over" if over else "began")
    return True
