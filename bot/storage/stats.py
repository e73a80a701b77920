"""Counts of residents per area for officials' and admins' summaries."""

from __future__ import annotations

from datetime import date

import aiosqlite

from bot.domain import AreaCounts


def area_range(code: str) -> tuple[str, str]:
    """Bounds of plain desa codes inside an area: `350510` -> (`350510`, `350511`)."""
    upper = str(int(code) + 1).zfill(len(code))
    return code, upper


async def area_counts(
    db: aiosqlite.Connection, code: str, *, adult_born_by: date, cohort_born_by: date
) -> AreaCounts:
    """Counts for residents whose desa code starts with `code` (plain)."""
    low, high = area_range(code)
    async with db.execute(
        "SELECT count(*),"
        " sum(tanggal_rekam IS NULL AND status_nik = 'AKTIF'"
        "     AND (tanggal_lahir <= ? OR status_kawin <> 'BELUM KAWIN')),"
        " sum(tanggal_rekam IS NULL AND status_nik = 'AKTIF' AND status_kawin = 'BELUM KAWIN'"
        "     AND tanggal_lahir > ? AND tanggal_lahir <= ?),"
        " sum(status_nik = 'NONAKTIF')"
        " FROM residents WHERE kode_desa >= ? AND kode_desa < ?",
        (
            adult_born_by.isoformat(),
            adult_born_by.isoformat(),
            cohort_born_by.isoformat(),
            low,
            high,
        ),
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    linked = await _linked_chats(db, low, high)
    return AreaCounts(row[0], row[1] or 0, row[2] or 0, row[3] or 0, linked)


async def _linked_chats(db: aiosqlite.Connection, low: str, high: str) -> int:
    async with db.execute(
        "SELECT count(DISTINCT l.chat_id) FROM links l JOIN residents r"
        " ON (l.kind = 'nik' AND r.nik = l.subject)"
        " OR (l.kind = 'household' AND r.no_kk = l.subject)"
        " WHERE r.kode_desa >= ? AND r.kode_desa < ?",
        (low, high),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
