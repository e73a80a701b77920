"""An area's figures split over the areas inside it (a kecamatan's desa, the regency's
kecamatan), for the charts of /rekap and /statistik. Each part's figures come from
`figures.figures`, the one definition the texts use too."""

from __future__ import annotations

from datetime import date

import aiosqlite

from bot.services.figures import Figures, Scope, figures
from bot.storage.areas import get_area, list_children


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
