"""An area's figures split over the areas inside it (a kecamatan's desa, the regency's
kecamatan), and the service points' figures, for the charts of /rekap and /statistik. The
parts' figures come from `figures.figures_of_parts`, which `figures.figures` (the texts') is the
one-scope case of."""

from __future__ import annotations

from datetime import date

import aiosqlite

from bot.services.figures import Figures, Scope, figures_of_parts, point_scope
from bot.storage.areas import get_area, list_children
from bot.storage.service_points import list_service_points


def to_visit(part: Figures) -> int:
    """Unrecorded wajib KTP and deactivated residents: what the chart ranks areas by."""
    return part.unrecorded_wajib.total + part.deactivated.total


async def parts(db: aiosqlite.Connection, code: str, *, today: date) -> list[Figures]:
    """The figures of each area inside `code`, worst first (most unrecorded and deactivated),
    then by name; a desa has no parts but itself."""
    areas = await list_children(db, code)
    if not areas and (area := await get_area(db, code)) is not None:
        areas = [area]
    found = await figures_of_parts(db, [Scope(area) for area in areas], today=today)
    return sorted(found, key=lambda part: (-to_visit(part), part.scope.area.name))


async def points(db: aiosqlite.Connection, *, today: date) -> list[Figures]:
    """The figures of each active service point that had bookings in the period (30 days),
    most bookings first, then by name."""
    scopes = [await point_scope(db, point) for point in await list_service_points(db)]
    found = await figures_of_parts(db, scopes, today=today)
    busy = [part for part in found if part.booked]
    return sorted(busy, key=lambda part: (-part.booked, _point_name(part)))


def _point_name(part: Figures) -> str:
    assert part.scope.point is not None
    return part.scope.point.name
