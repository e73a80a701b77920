"""The admins' weekly report, Monday mornings: the regency's figures, its charts and a CSV of
the figures of the regency, each kecamatan and each service point, queued in the outbox.

Once a week whatever restarts: every message's key names the week's Monday, and a bot that was
down on Monday sends the report at its first run later that week (`JobRun.since`)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from functools import partial

from bot.jobs.planning import JobRun
from bot.rendering import Renderer
from bot.services import outbox
from bot.services.breakdown import PointWeek, busiest, busiest_weeks, worst_first
from bot.services.figures import Figures
from bot.services.roles import accounts_with_role
from bot.services.trends import TeenTrend, teen_trend
from bot.services.weekly_report import ReportFigures, figures_csv, report_figures
from bot.views.charts import Chart, area_charts, points_chart


async def plan_weekly_report(run: JobRun) -> int:
    """On the week's first run from Monday on: the report to every admin."""
    monday = run.day - timedelta(days=run.day.weekday())
    admins = await accounts_with_role(run.db, "admin")
    if run.since > monday or not admins:
        return 0  # planned earlier this week (or the bot began after Monday): next Monday
    found = await report_figures(run.db, today=run.day)
    trend = await teen_trend(run.db, found.regency.scope.area.code, today=run.day)
    weeks = await busiest_weeks(run.db, busiest(found.points), today=run.day)
    document = outbox.Attachment("document", f"figures-{monday}.csv", figures_csv(found.rows))
    drawn: dict[str, list[Chart]] = {}
    messages = []
    for chat_id in admins:
        locale = await run.locale(chat_id)
        if locale not in drawn:
            draw = partial(_charts, run.renderer, locale, found, trend, weeks)
            drawn[locale] = await asyncio.to_thread(draw)
        texts = _report(run.renderer, locale, found.regency, monday, drawn[locale], document)
        key = f"weekly-report:{monday.isoformat()}:{chat_id}"
        messages += [
            outbox.Planned(f"{key}:{n}", chat_id, "staff", text, file=file)
            for n, (text, file) in enumerate(texts)
        ]
    return await outbox.enqueue_many(run.db, messages, now=run.now, quiet=run.quiet)


def _charts(
    renderer: Renderer,
    locale: str,
    found: ReportFigures,
    trend: TeenTrend,
    weeks: dict[str, list[PointWeek]],
) -> list[Chart]:
    """The regency's charts (per kecamatan, funnel, teens) and the service points'."""
    regency = found.regency
    drawings = area_charts(renderer, locale, regency, worst_first(found.kecamatan), trend)
    drawings.append(partial(points_chart, renderer, locale, regency, busiest(found.points), weeks))
    return [chart for draw in drawings if (chart := draw()) is not None]


def _report(
    renderer: Renderer,
    locale: str,
    regency: Figures,
    monday: date,
    charts: list[Chart],
    document: outbox.Attachment,
) -> list[tuple[str, outbox.Attachment | None]]:
    """The report's messages in order: the figures, each chart (its numbers after it when too
    long for a caption), the CSV."""
    texts: list[tuple[str, outbox.Attachment | None]] = [
        (renderer.render(locale, "admin/weekly_report.html", f=regency, monday=monday), None)
    ]
    for chart in charts:
        caption, numbers = chart.captions()
        texts.append((caption, outbox.Attachment("photo", chart.filename, chart.png)))
        if numbers is not None:
            texts.append((numbers, None))
    caption = renderer.render(locale, "admin/weekly_report_csv.html", f=regency)
    return [*texts, (caption, document)]
