"""Officials' /rekap and /siaran, admins' /statistik (staff commands are in staff.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.domain import RoleUser
from bot.handlers.common import Context, acting_role, deps, reply
from bot.services.summaries import REGENCY_CODE, summarize_area
from bot.services.ticket_stats import ticket_statistics

RoleHandler = Callable[[Update, Context, RoleUser], Awaitable[None]]


def guarded(
    command: str, handler: RoleHandler
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """Wrap a role command: the single guard decides, then the handler runs with the role."""

    async def run(update: Update, context: Context) -> None:
        user = await acting_role(update, context, command)
        if user is not None:
            await handler(update, context, user)

    return run


async def area_summary(update: Update, context: Context, user: RoleUser) -> None:
    """/rekap: counts for the official's own area (the whole regency for an admin)."""
    d = deps(context)
    code = user.area_code if user.role == "official" and user.area_code else REGENCY_CODE
    summary = await summarize_area(d.db, code, today=d.today())
    await reply(update, context, "official/summary.html", summary=summary)


async def broadcast(update: Update, context: Context, user: RoleUser) -> None:
    """/siaran: broadcasting arrives with the delivery engine; say so and point to /rekap."""
    await reply(update, context, "official/broadcast_pending.html")


async def statistics(update: Update, context: Context, user: RoleUser) -> None:
    """/statistik: regency-wide counts."""
    d = deps(context)
    summary = await summarize_area(d.db, REGENCY_CODE, today=d.today())
    cards = await ticket_statistics(d.db)
    await reply(update, context, "admin/statistics.html", summary=summary, cards=cards)


HANDLERS: dict[str, RoleHandler] = {
    "rekap": area_summary,
    "siaran": broadcast,
    "statistik": statistics,
}


def register(app: Application) -> None:
    """Add every role command behind the guard."""
    for command, handler in HANDLERS.items():
        app.add_handler(CommandHandler(command, guarded(command, handler)))
