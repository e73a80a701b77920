"""An area's figures split over the areas inside it (a kecamatan's desa, the regency's
kecamatan), and the service points' figures, for the charts of /rekap and /statistik. The
parts' figures come from `figures.figures_of_parts`, which `figures.figures` (the texts') is the
one-scope case of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain import ACTIVE_BOOKING_STATES, ServicePoint
from bot.engine import Connection
from bot.services.figures import CAME, Figures, Scope, figures_of_parts, point_scope
from bot.services.schedule import places_offered
from bot.storage import figures as store
from bot.storage.areas import get_area, list_children
from bot.storage.service_points import list_service_points

WEEKS = 4  # the weeks of the service points' chart, the last one ending today
POINTS_BY_WEEK = 6  # the busiest points drawn week by week: more would not fit a phone
# A place is used by a booking still to be served or served: not by one cancelled, released,
# rejected or not come to.
USED = tuple(dict.fromkeys((*ACTIVE_BOOKING_STATES, *CAME)))


@dataclass(frozen=True)
class PointWeek:
    """A service point's bookings (per state) for the days `first` to `last`, and the places
    its open slots offered on those days."""

    first: date
    last: date
    bookings: dict[str, int]
    offered: int

    @property
    def booked(self) -> int:
        """Bookings for a day of the week, whatever became of them."""
        return sum(self.bookings.values())

    @property
    def no_show(self) -> int:
        """Bookings of the week whose resident did not come."""
        return self.bookings.get("no_show", 0)

    @property
    def used(self) -> int:
        """Places taken by a booking still to be served or served (states USED)."""
        return sum(self.bookings.get(state, 0) for state in USED)

    @property
    def share(self) -> float | None:
        """The share of places used, in percent: used / offered (None: nothing offered)."""
        return self.used * 100 / self.offered if self.offered else None


def to_visit(part: Figures) -> int:
    """Unrecorded wajib KTP and deactivated residents: what the chart ranks areas by."""
    return part.unrecorded_wajib.total + part.deactivated.total


async def parts(db: Connection, code: str, *, today: date) -> list[Figures]:
    """The figures of each area inside `code`, worst first (most unrecorded and deactivated),
    then by name; a desa has no parts but itself."""
    areas = await list_children(db, code)
    if not areas and (area := await get_area(db, code)) is not None:
        areas = [area]
    return worst_first(await figures_of_parts(db, [Scope(area) for area in areas], today=today))


def worst_first(found: list[Figures]) -> list[Figures]:
    """Areas' figures, most unrecorded and deactivated first, then by name."""
    return sorted(found, key=lambda part: (-to_visit(part), part.scope.area.name))


async def points(db: Connection, *, today: date) -> list[Figures]:
    """The figures of each active service point that had bookings in the period (30 days),
    most bookings first, then by name."""
    scopes = [await point_scope(db, point) for point in await list_service_points(db)]
    return busiest(await figures_of_parts(db, scopes, today=today))


def busiest(found: list[Figures]) -> list[Figures]:
    """Service points' figures with bookings in their period, most bookings first, then by
    name."""
    busy = [part for part in found if part.booked]
    return sorted(busy, key=lambda part: (-part.booked, _point_name(part)))


async def point_week(db: Connection, point: ServicePoint, first: date, last: date) -> PointWeek:
    """The point's bookings and places offered from `first` to `last`."""
    bookings = await store.booking_states(db, "", "", first=first, last=last, point=point.code)
    return PointWeek(first, last, bookings, await places_offered(db, point, first, last))


async def point_weeks(
    db: Connection, point: ServicePoint, *, today: date, weeks: int = WEEKS
) -> list[PointWeek]:
    """The point's last `weeks` weeks of seven days, oldest first, the last ending today."""
    ends = [today - timedelta(days=7 * n) for n in reversed(range(weeks))]
    return [await point_week(db, point, end - timedelta(days=6), end) for end in ends]


async def busiest_weeks(
    db: Connection, busy: list[Figures], *, today: date
) -> dict[str, list[PointWeek]]:
    """The weeks of the POINTS_BY_WEEK first points of `busy` (see `points`), by code."""
    drawn = [part.scope.point for part in busy[:POINTS_BY_WEEK] if part.scope.point]
    return {point.code: await point_weeks(db, point, today=today) for point in drawn}


def _point_name(part: Figures) -> str:
    assert part.scope.point is not None
    return part.scope.point.name
