"""Charts as PNG, drawn with matplotlib's Agg canvas: sized and lettered for a phone's screen.

Pure drawing: the callers pass the numbers and every word already in the reader's language
(from the templates), and get PNG bytes. No pyplot, so no global figure state: each call owns
its Figure, and can run in a worker thread (`asyncio.to_thread`) off the event loop.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from babel.numbers import format_decimal
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WIDTH_PX = 1080  # a phone shows a photo full width; Telegram keeps 1280 px
DPI = 100
FONT = 22  # points at 100 dpi: readable on a phone without zooming
TITLE_CHARS = 40  # a longer title wraps: bold at FONT + 4, about 40 characters fit
ROW_INCHES = 0.75  # height of one bar group in a bar chart
PANEL_INCHES = 2.8  # height of one service point's weeks
COLOURS = ("#c0392b", "#7f8c8d", "#2e86c1")  # red, grey, blue


@dataclass(frozen=True)
class Series:
    """One named row of numbers, one per label."""

    name: str
    values: Sequence[int]


@dataclass(frozen=True)
class Panel:
    """One service point's weeks: bookings, no-shows and the share of places used (percent,
    None where nothing was offered)."""

    name: str
    booked: Sequence[int]
    no_show: Sequence[int]
    share: Sequence[float | None]


def bars(title: str, labels: Sequence[str], series: Sequence[Series], *, locale: str) -> bytes:
    """Horizontal grouped bars, one group per label top to bottom, each value written at the
    end of its bar; PNG bytes."""
    rows = len(labels)
    figure = _figure(height=2.2 + ROW_INCHES * max(rows, 1) * max(len(series) / 2, 1))
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    for i, line in enumerate(series):
        positions = [row + (i - (len(series) - 1) / 2) * width for row in range(rows)]
        drawn = axes.barh(positions, line.values, height=width, label=line.name, color=COLOURS[i])
        axes.bar_label(
            drawn, labels=[_number(v, locale) for v in line.values], padding=4, fontsize=FONT
        )
    axes.set_yticks(range(rows), labels=labels, fontsize=FONT)
    axes.invert_yaxis()  # the first label (the worst) on top
    _finish(figure, axes, title)
    axes.legend(fontsize=FONT, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(series))
    return _png(figure)


def funnel(title: str, steps: Sequence[tuple[str, int]], *, locale: str) -> bytes:
    """One bar per step, top to bottom, each with its count and its share of the first step;
    PNG bytes."""
    figure = _figure(height=2.2 + 1.2 * len(steps))
    axes = figure.add_subplot()
    values = [value for _, value in steps]
    drawn = axes.barh(range(len(steps)), values, height=0.7, color=COLOURS[2])
    first = values[0] if values else 0
    labels = [_number(v, locale) + (f" ({v * 100 // first}%)" if first else "") for v in values]
    axes.bar_label(drawn, labels=labels, padding=4, fontsize=FONT)
    axes.set_yticks(range(len(steps)), labels=[name for name, _ in steps], fontsize=FONT)
    axes.invert_yaxis()
    _finish(figure, axes, title)
    return _png(figure)


def lines(
    title: str, ticks: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]
) -> bytes:
    """Percentages over time, one line per series (a None is a gap), the last value of each
    written at its end; the first series is drawn boldest. PNG bytes."""
    figure = _figure(height=8.0)
    axes = figure.add_subplot()
    for i, (name, values) in enumerate(series):
        points = [(x, v) for x, v in enumerate(values) if v is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, label=name, color=COLOURS[2 - i], linewidth=5 - 2 * min(i, 1))
        axes.annotate(
            f"{ys[-1]:.0f}%",
            (xs[-1], ys[-1]),
            fontsize=FONT,
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
        )
    step = max(1, len(ticks) // 5)
    axes.set_xticks(range(0, len(ticks), step), labels=list(ticks)[::step], fontsize=FONT - 4)
    axes.set_ylim(0, 100)
    axes.tick_params(axis="y", labelsize=FONT - 4)
    axes.yaxis.set_major_formatter("{x:.0f}%")
    axes.grid(axis="y", alpha=0.3)
    figure.suptitle(textwrap.fill(title, TITLE_CHARS), fontsize=FONT + 4, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.12)
    axes.legend(fontsize=FONT, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
    return _png(figure)


def weekly_panels(
    title: str,
    ticks: Sequence[str],
    panels: Sequence[Panel],
    names: tuple[str, str],
    *,
    locale: str,
) -> bytes:
    """One panel per point, top to bottom: per week (the ticks) a bar of bookings and one of
    no-shows, each with its count, and the share of places used written above the week.
    PNG bytes."""
    figure = _figure(height=2.4 + PANEL_INCHES * max(len(panels), 1))
    rows = figure.subplots(max(len(panels), 1), 1, squeeze=False)[:, 0]
    top = max((max([*p.booked, *p.no_show, 1]) for p in panels), default=1)
    for axes, panel in zip(rows, panels, strict=False):
        for i, values in enumerate((panel.booked, panel.no_show)):
            xs = [week + (i - 0.5) * 0.4 for week in range(len(ticks))]
            drawn = axes.bar(xs, values, width=0.4, color=COLOURS[2 - 2 * i], label=names[i])
            axes.bar_label(drawn, labels=[_number(v, locale) for v in values], fontsize=FONT - 6)
        for week, share in enumerate(panel.share):
            text = "-" if share is None else f"{share:.0f}%"
            axes.text(week, top * 1.32, text, ha="center", fontsize=FONT - 4, fontweight="bold")
        axes.set_ylim(0, top * 1.6)
        axes.set_title(panel.name, fontsize=FONT - 2, loc="left")
        axes.set_xticks(range(len(ticks)), labels=list(ticks), fontsize=FONT - 6)
        axes.yaxis.set_visible(False)
        axes.spines[["top", "right", "left"]].set_visible(False)
    figure.suptitle(textwrap.fill(title, TITLE_CHARS), fontsize=FONT + 4, fontweight="bold")
    rows[0].legend(fontsize=FONT - 4, loc="lower center", bbox_to_anchor=(0.5, 1.15), ncols=2)
    return _png(figure)


def _figure(*, height: float) -> Figure:
    figure = Figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _finish(figure: Figure, axes: Axes, title: str) -> None:
    """Title, no frame but the left axis, room on the right for the numbers."""
    figure.suptitle(textwrap.fill(title, TITLE_CHARS), fontsize=FONT + 4, fontweight="bold")
    axes.spines[["top", "right", "bottom"]].set_visible(False)
    axes.xaxis.set_visible(False)
    axes.margins(x=0.25, y=0.02)


def _number(value: int, locale: str) -> str:
    """`12.345` in Indonesian, `12,345` in English: as the texts write numbers."""
    return format_decimal(value, locale=locale)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
