"""An area's charts as photos (/rekap, /statistik), each with a caption giving the same numbers
as text. The PNGs are drawn in a worker thread, off the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.constants import MessageLimit

from bot import charts
from bot.context import Context, chat_locale, deps
from bot.handlers.common import HTML
from bot.services.breakdown import parts, points, to_visit
from bot.services.figures import Figures
from bot.services.trends import teen_trend

FUNNEL_STEPS = ("reminded", "booked", "came", "recorded")


async def send_area_charts(context: Context, chat_id: int, summary: Figures) -> None:
    """The area's unrecorded and deactivated residents per desa (per kecamatan for the
    regency), worst first; its funnel of the last 30 days; its teens recorded week by week.
    A chart with nothing to show is not sent."""
    locale = await chat_locale(context, chat_id)
    await _send_parts_chart(context, chat_id, locale, summary)
    await _send_funnel_chart(context, chat_id, locale, summary)
    await _send_teen_chart(context, chat_id, locale, summary)


async def _send_parts_chart(context: Context, chat_id: int, locale: str, summary: Figures) -> None:
    """Unrecorded wajib KTP and deactivated residents per desa (kecamatan), worst first."""
    d = deps(context)
    split = await parts(d.db, summary.scope.area.code, today=d.today())
    if not any(to_visit(part) for part in split):
        return
    title = _label(context, locale, "chart_parts_title", f=summary)
    names = [part.scope.area.name for part in split]
    series = [
        charts.Series(
            _label(context, locale, "chart_unrecorded"), [p.unrecorded_wajib.total for p in split]
        ),
        charts.Series(
            _label(context, locale, "chart_deactivated"), [p.deactivated.total for p in split]
        ),
    ]
    png = await asyncio.to_thread(charts.bars, title, names, series, locale=locale)
    await _send(context, chat_id, png, locale, "charts/parts.html", f=summary, parts=split)


async def _send_funnel_chart(context: Context, chat_id: int, locale: str, summary: Figures) -> None:
    """Reminded, booked, came and recorded in the last 30 days."""
    steps = [(_label(context, locale, f"chart_{s}"), getattr(summary, s)) for s in FUNNEL_STEPS]
    if not any(value for _, value in steps):
        return
    title = _label(context, locale, "chart_funnel_title", f=summary)
    png = await asyncio.to_thread(charts.funnel, title, steps, locale=locale)
    await _send(context, chat_id, png, locale, "charts/funnel.html", f=summary)


async def _send_teen_chart(context: Context, chat_id: int, locale: str, summary: Figures) -> None:
    """The cycle's teens: share recorded week by week, against the previous cycle."""
    d = deps(context)
    trend = await teen_trend(d.db, summary.scope.area.code, today=d.today())
    if not trend.teens:
        return
    title = _label(context, locale, "chart_teens_title", f=summary, trend=trend)
    ticks = [_label(context, locale, "chart_week", day=week.last) for week in trend.weeks]
    series = [
        (_label(context, locale, "chart_this_cycle"), [week.share for week in trend.weeks]),
        (_label(context, locale, "chart_last_cycle"), [week.previous for week in trend.weeks]),
    ]
    png = await asyncio.to_thread(charts.lines, title, ticks, series)
    await _send(context, chat_id, png, locale, "charts/teens.html", f=summary, trend=trend)


async def send_point_chart(context: Context, chat_id: int, summary: Figures) -> None:
    """Bookings and no-shows of the last 30 days per service point, busiest first (the points
    without bookings are left out; nothing is sent when none had any)."""
    d = deps(context)
    locale = await chat_locale(context, chat_id)
    busy = await points(d.db, today=d.today())
    if not busy:
        return
    title = _label(context, locale, "chart_points_title", f=summary)
    names = [part.scope.point.name for part in busy if part.scope.point]
    series = [
        charts.Series(_label(context, locale, "chart_booked"), [p.booked for p in busy]),
        charts.Series(_label(context, locale, "chart_no_show"), [p.no_show for p in busy]),
    ]
    png = await asyncio.to_thread(charts.bars, title, names, series, locale=locale)
    await _send(context, chat_id, png, locale, "charts/points.html", f=summary, per_point=busy)


def _label(context: Context, locale: str, key: str, **options: Any) -> str:
    """A word or title drawn in a chart (labels.j2)."""
    return deps(context).renderer.label(locale, key, **options)


async def _send(
    context: Context, chat_id: int, png: bytes, locale: str, template: str, **options: Any
) -> None:
    """The photo with its numbers as caption; numbers too long for a caption follow it."""
    text = deps(context).renderer.render(locale, template, **options)
    if len(text) <= MessageLimit.CAPTION_LENGTH:
        await context.bot.send_photo(chat_id, png, caption=text, parse_mode=HTML)
        return
    title, _, numbers = text.partition("\n")
    await context.bot.send_photo(chat_id, png, caption=title, parse_mode=HTML)
    await context.bot.send_message(chat_id, numbers, parse_mode=HTML)
