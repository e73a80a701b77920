"""An area's charts as photos (/rekap, /statistik), each with a caption giving the same numbers
as text (bot/views/charts.py). The PNGs are drawn in a worker thread, off the event loop."""

from __future__ import annotations

import asyncio

from bot.context import Context, chat_locale, deps
from bot.handlers.common import HTML
from bot.services.breakdown import busiest_weeks, parts, points
from bot.services.figures import Figures
from bot.services.trends import teen_trend
from bot.views.charts import Chart, Drawing, area_charts, points_chart


async def send_area_charts(context: Context, chat_id: int, summary: Figures) -> None:
    """The area's unrecorded and deactivated residents per desa (per kecamatan for the
    regency), worst first; its funnel of the last 30 days; its teens recorded week by week.
    A chart with nothing to show is not sent."""
    d = deps(context)
    locale = await chat_locale(context, chat_id)
    code = summary.scope.area.code
    split = await parts(d.db, code, today=d.today())
    trend = await teen_trend(d.db, code, today=d.today())
    for draw in area_charts(d.renderer, locale, summary, split, trend):
        await _send(context, chat_id, draw)


async def send_point_chart(context: Context, chat_id: int, summary: Figures) -> None:
    """Bookings and no-shows of the last 30 days per service point, busiest first (the points
    without bookings are left out; nothing is sent when none had any), the busiest week by
    week with the share of places used."""
    d = deps(context)
    locale = await chat_locale(context, chat_id)
    busy = await points(d.db, today=d.today())
    weeks = await busiest_weeks(d.db, busy, today=d.today())
    await _send(context, chat_id, lambda: points_chart(d.renderer, locale, summary, busy, weeks))


async def _send(context: Context, chat_id: int, draw: Drawing) -> None:
    """The chart, drawn in a worker thread, as a photo with its numbers as caption; numbers
    too long for a caption follow it."""
    chart: Chart | None = await asyncio.to_thread(draw)
    if chart is None:
        return
    caption, numbers = chart.captions()
    await context.bot.send_photo(chat_id, chart.png, caption=caption, parse_mode=HTML)
    if numbers is not None:
        await context.bot.send_message(chat_id, numbers, parse_mode=HTML)
