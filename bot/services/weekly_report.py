"""The admins' weekly report: the figures of the regency, of each kecamatan and of each service
point, from `figures.figures_of_parts` (the numbers /statistik and /rekap give), and as a CSV
with one row per scope and one column per figure."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.domain import TICKET_STATES
from bot.engine import Connection
from bot.services.figures import (
    REGENCY_CODE,
    Figures,
    Scope,
    area_scope,
    figures_of_parts,
    point_scope,
)
from bot.storage.areas import list_children
from bot.storage.service_points import list_service_points

Column = tuple[str, Callable[[Figures], object]]
# The CSV's columns after scope, code and name: each a figure of figures.Figures, by its name.
FIGURE_COLUMNS: tuple[Column, ...] = (
    ("first", lambda f: f.first.isoformat()),
    ("last", lambda f: f.last.isoformat()),
    ("residents", lambda f: f.residents),
    ("wajib_ktp", lambda f: f.wajib_ktp),
    ("unrecorded_wajib", lambda f: f.unrecorded_wajib.total),
    ("unrecorded_wajib_linked", lambda f: f.unrecorded_wajib.linked),
    ("turning_17", lambda f: f.turning_17),
    ("turning_17_recorded", lambda f: f.turning_17_recorded.total),
    ("turning_17_unrecorded", lambda f: f.turning_17_unrecorded.total),
    ("turning_17_unrecorded_linked", lambda f: f.turning_17_unrecorded.linked),
    ("deactivated", lambda f: f.deactivated.total),
    ("deactivated_linked", lambda f: f.deactivated.linked),
    ("reactivated", lambda f: f.reactivated),
    ("linked", lambda f: f.linked),
    ("outreach", lambda f: f.outreach),
    ("reminded", lambda f: f.reminded),
    ("booked", lambda f: f.booked),
    ("came", lambda f: f.came),
    ("no_show", lambda f: f.no_show),
    ("recorded", lambda f: f.recorded),
    ("open_tickets", lambda f: f.open_tickets),
    *((f"tickets_{state}", lambda f, s=state: f.tickets[s]) for state in TICKET_STATES),
)
HEADER = ("scope", "code", "name", *(name for name, _ in FIGURE_COLUMNS))


@dataclass(frozen=True)
class ReportFigures:
    """The figures of the regency, of its kecamatan (by code) and of the service points."""

    regency: Figures
    kecamatan: list[Figures]
    points: list[Figures]

    @property
    def rows(self) -> list[Figures]:
        """Every scope, in the CSV's order."""
        return [self.regency, *self.kecamatan, *self.points]


async def report_figures(db: Connection, *, today: date) -> ReportFigures:
    """The figures of every scope of the report on `today` (activity: the last 30 days)."""
    regency = await area_scope(db, REGENCY_CODE)
    kecamatan = [Scope(area) for area in await list_children(db, REGENCY_CODE)]
    points = [await point_scope(db, point) for point in await list_service_points(db)]
    found = await figures_of_parts(db, [regency, *kecamatan, *points], today=today)
    return ReportFigures(found[0], found[1 : 1 + len(kecamatan)], found[1 + len(kecamatan) :])


def figures_csv(rows: Sequence[Figures]) -> bytes:
    """One row per scope (regency, kecamatan, service point), one column per figure."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(HEADER)
    for f in rows:
        kind, code, name = (
            ("service_point", f.scope.point.code, f.scope.point.name)
            if f.scope.point
            else (f.scope.area.level, f.scope.area.code, f.scope.area.name)
        )
        writer.writerow([kind, code, name, *(value(f) for _, value in FIGURE_COLUMNS)])
    return text.getvalue().encode("utf-8")
