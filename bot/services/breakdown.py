"""An area's figures split over the areas inside it (a kecamatan's desa, the regency's
kecamatan), and the service points' figures, for the charts of /rekap and /statistik. Each
part's figures come from `figures.figures`, the one definition the texts use too."""

from __future__ import annotations

from datetime import date

import aiosqlite

from bot.services.figures import Figures, Scope, figures, point_scope
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
    found = [await figures(db, Scope(area), today=today) for area in areas]
    return sorted(found, key=lambda part: (-to_visit(part), part.scope.area.name))


async def points(db: aiosqlite.Connection, *, today: date) -> list[Figures]:
    """The figures of each active service point that had bookings in the period (30 days),
    most bookings first, then by name."""
    found = [
        await figures(db, await point_scope(db, point), today=today)
        for point in await list_service_points(db)
    ]
    busy = [part for part in found if part.booked]
    return sorted(busy, key=lambda part: (-part.booked, _point_name(part)))


def _point_name(part: Figures) -> str:
    assert part.scope.point is not None
    return part.scope.point.name
