"""Summaries for village officials (/rekap) and admins (/statistik)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import aiosqlite

from bot.domain import Area
from bot.services.cycle import WAJIB_KTP_AGE, Cycle, birthday_at, cycle_in_force
from bot.storage.areas import get_area
from bot.storage.stats import AreaCounts, area_counts

REGENCY_CODE = "3505"


@dataclass(frozen=True)
class AreaSummary:
    """An area's counts in the cycle in force."""

    area: Area
    counts: AreaCounts
    cycle: Cycle


async def summarize_area(db: aiosqlite.Connection, code: str, *, today: date) -> AreaSummary:
    """Residents, unrecorded wajib KTP, turning 17 this cycle and deactivated, for one area."""
    area = await get_area(db, code)
    if area is None:
        raise LookupError(f"unknown area {code}")
    cycle = cycle_in_force(today)
    counts = await area_counts(
        db,
        area.code,
        adult_born_by=_born_by(today),
        cohort_born_by=_born_by(cycle.cohort_date),
    )
    return AreaSummary(area, counts, cycle)


def _born_by(day: date) -> date:
    """Latest birth date of someone who is 17 on `day`."""
    return birthday_at(day, -WAJIB_KTP_AGE)
