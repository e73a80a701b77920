"""Recordings over time of a group of residents, for the trend charts (bot/services/trends.py).
The groups are those of bot/storage/stats.py, so the trends count the residents the figures do."""

from __future__ import annotations

from collections import Counter

from bot.engine import Connection, is_postgresql
from bot.storage.stats import STANDING, TURNING_17, TURNING_17_YEARS, Ages, Standing


async def teen_recording_days(
    db: Connection, low: str, high: str, *, ages: Ages
) -> tuple[int, dict[str, int]]:
    """The cycle's teens (of `ages`) whose plain desa code is in [low, high): how many, and how
    many were recorded on each day (ISO dates)."""
    area = "r.kode_desa >= :low AND r.kode_desa < :high"
    params = {**ages.dates(), "low": low, "high": high}
    if is_postgresql(db):  # by birth year in SQL, each teen's birth date opened here
        rows = await db.execute_fetchall(
            f"SELECT {STANDING} FROM residents r WHERE {area} AND {TURNING_17_YEARS}", params
        )
        people = [Standing.of(db, row) for row in rows]
        days = Counter(p.tanggal_rekam for p in people if ages.turning_17(p.born))
    else:
        query = (
            f"SELECT r.tanggal_rekam, count(*) FROM residents r WHERE {area} AND {TURNING_17}"
            " GROUP BY r.tanggal_rekam"
        )
        days = Counter({day: int(count) for day, count in await db.execute_fetchall(query, params)})
    return sum(days.values()), {day: n for day, n in days.items() if day is not None}
