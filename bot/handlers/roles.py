"""Officials' /rekap, admins' /statistik (staff commands are in staff.py, /siaran in
broadcast.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import InputFile, Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot.context import Context, chat_locale, deps
from bot.domain import RoleUser
from bot.handlers.common import HTML, acting_role, chat_id_of, reply
from bot.services.summaries import REGENCY_CODE, Rekap, outreach_list, rekap, summarize_area
from bot.services.ticket_stats import ticket_statistics

OUTREACH_STATUSES = ("deactivated", "turning17", "unrecorded")

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
    """/rekap: the official's own area (the whole regency for an admin) per group, and the
    outreach list of those the bot cannot reach as a CSV document (private chats only)."""
    assert update.effective_chat is not None
    if update.effective_chat.type != ChatType.PRIVATE:
        await reply(update, context, "official/use_private.html")
        return
    d = deps(context)
    summary = await rekap(d.db, user, today=d.today())
    await reply(update, context, "official/summary.html", rekap=summary)
    if summary.groups.outreach:
        await _send_outreach_list(update, context, user, summary)


async def _send_outreach_list(
    update: Update, context: Context, user: RoleUser, summary: Rekap
) -> None:
    d = deps(context)
    chat_id = chat_id_of(update)
    locale = await chat_locale(context, chat_id)
    names = {s: d.renderer.label(locale, f"outreach_{s}") for s in OUTREACH_STATUSES}
    listing = await outreach_list(d.db, user, status_names=names, today=d.today(), now=d.now())
    caption = d.renderer.render(
        locale, "official/outreach_caption.html", rekap=summary, rows=listing.rows
    )
    document = InputFile(listing.content, filename=listing.filename)
    await context.bot.send_document(chat_id, document, caption=caption, parse_mode=HTML)


async def statistics(update: Update, context: Context, user: RoleUser) -> None:
    """/statistik: regency-wide counts."""
    d = deps(context)
    summary = await summarize_area(d.db, REGENCY_CODE, today=d.today())
    cards = await ticket_statistics(d.db)
    await reply(update, context, "admin/statistics.html", summary=summary, cards=cards)


HANDLERS: dict[str, RoleHandler] = {
    "rekap": area_summary,
    "statistik": statistics,
}


def register(app: Application) -> None:
    """Add every role command behind the guard."""
    for command, handler in HANDLERS.items():
        app.add_handler(CommandHandler(command, guarded(command, handler)))
