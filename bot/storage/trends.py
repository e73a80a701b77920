"""Recordings over time of a group of residents, for the trend charts (bot/services/trends.py).
The groups are those of bot/storage/stats.py, so the trends count the residents the figures do."""

from __future__ import annotations

import aiosqlite

from bot.storage.stats import TURNING_17, Ages


async def teen_recording_days(
    db: aiosqlite.Connection, low: str, high: str, *, ages: Ages
) -> tuple[int, dict[str, int]]:
    """The cycle's teens (of `ages`) whose plain desa code is in [low, high): how many, and how
    many were recorded on each day (ISO dates)."""
    query = (
        "SELECT r.tanggal_rekam, count(*) FROM residents r"
        f" WHERE r.kode_desa >= :low AND r.kode_desa < :high AND {TURNING_17}"
        " GROUP BY r.tanggal_rekam"
    )
    async with db.execute(query, {**ages.dates(), "low": low, "high": high}) as cursor:
        days = {day: int(count) async for day, count in cursor}
    return sum(days.values()), {day: n for day, n in days.items() if day is not None}
