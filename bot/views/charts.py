"""The charts of an area or of the service points: each a PNG and a caption giving the same
numbers as text, words from the reader's locale (labels.j2 and templates/*/charts/).

Drawing takes a moment: callers run these functions in a worker thread (`asyncio.to_thread`).
A chart with nothing to show is None. /rekap and /statistik send them as photos, the weekly
report queues them in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram.constants import MessageLimit

from bot import charts
from bot.rendering import Renderer
from bot.services.breakdown import PointWeek, to_visit
from bot.services.figures import Figures
from bot.services.trends import TeenTrend

FUNNEL_STEPS = ("reminded", "booked", "came", "recorded")


@dataclass(frozen=True)
class Chart:
    """A PNG and its numbers as Telegram HTML (a title line, then the numbers)."""

    png: bytes
    text: str
    filename: str

    def captions(self) -> tuple[str, str | None]:
        """The photo's caption, and the numbers as a message of their own when the text is
        too long for a caption (the title stays under the photo)."""
        if len(self.text) <= MessageLimit.CAPTION_LENGTH:
            return self.text, None
        title, _, numbers = self.text.partition("\n")
        return title, numbers


Drawing = Callable[[], Chart | None]


def area_charts(
    renderer: Renderer, locale: str, summary: Figures, parts: list[Figures], trend: TeenTrend
) -> list[Drawing]:
    """The area's charts, to draw one by one: its parts (desa, or kecamatan for the regency)
    worst first, its funnel of the last 30 days, its teens week by week."""
    return [
        partial(parts_chart, renderer, locale, summary, parts),
        partial(funnel_chart, renderer, locale, summary),
        partial(teen_chart, renderer, locale, summary, trend),
    ]


def parts_chart(
    renderer: Renderer, locale: str, summary: Figures, parts: list[Figures]
) -> Chart | None:
    """Unrecorded wajib KTP and deactivated residents per desa (kecamatan), worst first."""
    if not any(to_visit(part) for part in parts):
        return None
    label = partial(renderer.label, locale)
    series = [
        charts.Series(label("chart_unrecorded"), [p.unrecorded_wajib.total for p in parts]),
        charts.Series(label("chart_deactivated"), [p.deactivated.total for p in parts]),
    ]
    names = [part.scope.area.name for part in parts]
    png = charts.bars(label("chart_parts_title", f=summary), names, series, locale=locale)
    return _chart(renderer, locale, png, "parts", f=summary, parts=parts)


def funnel_chart(renderer: Renderer, locale: str, summary: Figures) -> Chart | None:
    """Reminded, booked, came and recorded in the last 30 days."""
    steps = [(renderer.label(locale, f"chart_{s}"), getattr(summary, s)) for s in FUNNEL_STEPS]
    if not any(value for _, value in steps):
        return None
    title = renderer.label(locale, "chart_funnel_title", f=summary)
    png = charts.funnel(title, steps, locale=locale)
    return _chart(renderer, locale, png, "funnel", f=summary)


def teen_chart(renderer: Renderer, locale: str, summary: Figures, trend: TeenTrend) -> Chart | None:
    """The cycle's teens: share recorded week by week, against the previous cycle."""
    if not trend.teens:
        return None
    label = partial(renderer.label, locale)
    ticks = [label("chart_week", day=week.last) for week in trend.weeks]
    series = [
        (label("chart_this_cycle"), [week.share for week in trend.weeks]),
        (label("chart_last_cycle"), [week.previous for week in trend.weeks]),
    ]
    png = charts.lines(label("chart_teens_title", f=summary, trend=trend), ticks, series)
    return _chart(renderer, locale, png, "teens", f=summary, trend=trend)


def points_chart(
    renderer: Renderer,
    locale: str,
    summary: Figures,
    busy: list[Figures],
    weeks: Mapping[str, list[PointWeek]],
) -> Chart | None:
    """The busy service points' 30 days in the caption; those with `weeks` (the busiest)
    drawn and written week by week: bookings, no-shows and the share of places used."""
    if not busy:
        return None
    label = partial(renderer.label, locale)
    drawn = [p.scope.point for p in busy if p.scope.point and p.scope.point.code in weeks]
    ticks = [label("chart_week", day=week.last) for week in weeks[drawn[0].code]]
    panels = [
        charts.Panel(
            point.name,
            [week.booked for week in weeks[point.code]],
            [week.no_show for week in weeks[point.code]],
            [week.share for week in weeks[point.code]],
        )
        for point in drawn
    ]
    names = (label("chart_booked"), label("chart_no_show"))
    title = label("chart_points_title", f=summary)
    png = charts.weekly_panels(title, ticks, panels, names, locale=locale)
    return _chart(
        renderer, locale, png, "points", f=summary, per_point=busy, drawn=drawn, weeks=weeks
    )


def _chart(renderer: Renderer, locale: str, png: bytes, name: str, **options: Any) -> Chart:
    return Chart(png, renderer.render(locale, f"charts/{name}.html", **options), f"{name}.png")
