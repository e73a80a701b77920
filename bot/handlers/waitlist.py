"""The waitlist flow inside /antre (`bk:wait`): when the wanted days are full, the person
chooses from which day until which day they can come and joins the waitlist of the point."""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ConversationHandler

from bot.context import Context, Deps, chat_locale, deps
from bot.errors import DomainError
from bot.handlers.booking_draft import CHOOSING, draft, drafted
from bot.handlers.common import (
    answer_query,
    callback_arg,
    chat_id_of,
    on_step,
    refuse,
    reply,
    send_markup,
    stale,
)
from bot.services.booking_options import in_window, window_days
from bot.services.directory import get_service_point
from bot.services.waitlist import join_waitlist


async def wait(update: Update, context: Context) -> int:
    """`bk:wait`: join the waitlist; first ask from which day the person can come."""
    await answer_query(update)
    if not drafted(context, "nik", "service", "point"):
        return await stale(update, context)
    point = await get_service_point(deps(context).db, draft(context)["point"])
    if point is not None and point.open_day is not None:  # a drive: its one day, no question
        draft(context)["wait_from"] = point.open_day
        return await _joined(update, context, point.open_day)
    today = deps(context).today()
    return await _ask_range_day(update, context, "citizen/waitlist_from.html", "wf", today)


async def wait_from(update: Update, context: Context) -> int:
    """`bk:wf:<day>`: the first day; now ask until which day."""
    await answer_query(update)
    first = _window_day(context, callback_arg(update).removeprefix("wf:"))
    if first is None or not drafted(context, "point"):
        return await stale(update, context)
    draft(context)["wait_from"] = first
    return await _ask_range_day(update, context, "citizen/waitlist_until.html", "wt", first)


async def wait_until(update: Update, context: Context) -> int:
    """`bk:wt:<day>`: join the waitlist for the chosen days."""
    await answer_query(update)
    last = _window_day(context, callback_arg(update).removeprefix("wt:"))
    if last is None or not drafted(context, "nik", "service", "point", "wait_from"):
        return await stale(update, context)
    return await _joined(update, context, last)


async def _joined(update: Update, context: Context, last: date) -> int:
    """Join the waitlist of the drafted point from the drafted day until `last`; say so."""
    try:
        await _join(deps(context), chat_id_of(update), draft(context), last)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    point = await get_service_point(deps(context).db, draft(context)["point"])
    first = draft(context)["wait_from"]
    await reply(
        update, context, "citizen/waitlist_joined.html", point=point, first=first, last=last
    )
    return ConversationHandler.END


async def _join(d: Deps, chat_id: int, b: dict[str, Any], last: date) -> None:
    """Join the waitlist of the drafted point for the drafted service and days."""
    await join_waitlist(
        d.db,
        chat_id=chat_id,
        nik=b["nik"],
        service=b["service"],
        point_code=b["point"],
        first_day=b["wait_from"],
        last_day=last,
        now=d.now(),
        min_age=d.settings.recording_min_age,
    )


async def _ask_range_day(
    update: Update, context: Context, template: str, prefix: str, first: date
) -> int:
    """A calendar of the days from `first` to the end of the booking window."""
    d = deps(context)
    locale = await chat_locale(context, chat_id_of(update))
    buttons = [
        InlineKeyboardButton(
            d.renderer.label(locale, "range_day", day=day), callback_data=f"bk:{prefix}:{day}"
        )
        for day in window_days(first, now=d.now())
    ]
    markup = InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])
    await send_markup(update, context, template, markup, step=True)
    return CHOOSING


def _window_day(context: Context, raw: str) -> date | None:
    """The day in the callback data if it lies in the booking window; else None (stale)."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if in_window(day, now=deps(context).now()) else None


def steps() -> list[BaseHandler[Any, Any, Any]]:
    """The waitlist's buttons, steps of the booking conversation (see booking.register)."""
    return [
        CallbackQueryHandler(on_step(wait), pattern=r"^bk:wait$"),
        CallbackQueryHandler(on_step(wait_from), pattern=r"^bk:wf:"),
        CallbackQueryHandler(on_step(wait_until), pattern=r"^bk:wt:"),
    ]
