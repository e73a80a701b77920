"""Counts and lists of residents per area for officials' and admins' summaries.

Every query is bounded by an area's range of plain desa codes (`area_range`), so the
`residents_desa` index keeps a village's summary fast whatever the size of the regency.
The groups are SQL over `r` (residents) with named parameters: `:adult`, the latest birth date
of someone 17 today; `:teen_from` and `:teen_to`, the birth dates of those who turn 17 in the
cohort year of the cycle in force.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import aiosqlite

from bot.domain import AreaCounts
from bot.storage.residents import born, born_between, opened

UNRECORDED_WAJIB = (
    "(r.tanggal_rekam IS NULL AND r.status_nik = 'AKTIF'"
    f" AND ({born('<=', 'adult')} OR r.status_kawin <> 'BELUM KAWIN'))"
)
TURNING_17 = born_between("teen_from", "teen_to")
TURNING_17_UNRECORDED = f"({TURNING_17} AND r.tanggal_rekam IS NULL)"
DEACTIVATED = "(r.status_nik = 'NONAKTIF')"
# The bot can reach the resident: a link (theirs or their household's) with reminders on, to a
# chat that has not blocked the bot. Two EXISTS, so each uses the links (kind, subject_ref) index.
REACHABLE = (
    "(EXISTS (SELECT 1 FROM links l WHERE l.kind = 'nik' AND l.subject_ref = r.nik_ref"
    "   AND l.reminders_on = 1 AND l.chat_id NOT IN (SELECT chat_id FROM blocked_chats))"
    " OR EXISTS (SELECT 1 FROM links l WHERE l.kind = 'household' AND l.subject_ref = r.kk_ref"
    "   AND l.reminders_on = 1 AND l.chat_id NOT IN (SELECT chat_id FROM blocked_chats)))"
)
OUTREACH = f"({DEACTIVATED} OR {UNRECORDED_WAJIB} OR {TURNING_17_UNRECORDED})"


@dataclass(frozen=True)
class Ages:
    """The birth-date bounds of the groups on one day (see the module docstring)."""

    adult: date
    teen_from: date
    teen_to: date

    def params(self, code: str) -> dict[str, Any]:
        """Named SQL parameters for the groups of area `code`."""
        low, high = area_range(code)
        return {
            "low": low,
            "high": high,
            "adult": self.adult.isoformat(),
            "teen_from": self.teen_from.isoformat(),
            "teen_to": self.teen_to.isoformat(),
        }


@dataclass(frozen=True)
class Reach:
    """How many residents are in a group, and how many of them the bot can reach."""

    total: int
    linked: int

    @property
    def unreachable(self) -> int:
        """Those only a door-to-door visit reaches."""
        return self.total - self.linked


@dataclass(frozen=True)
class AreaGroups:
    """An area's residents per group, each with how many the bot can reach."""

    residents: int
    unrecorded_wajib: Reach
    turning_17_recorded: Reach
    turning_17_unrecorded: Reach
    deactivated: Reach
    outreach: int  # residents of any group the bot cannot reach (the outreach list)


@dataclass(frozen=True)
class OutreachRow:
    """One resident to visit; no NIK or KK number, only the KK's lookup hash to group a family."""

    nama: str
    household: bytes  # the KK number's lookup hash: equal for members of one family
    tanggal_lahir: str
    desa: str
    status: str  # deactivated / turning17 / unrecorded


def area_range(code: str) -> tuple[str, str]:
    """Bounds of plain desa codes inside an area: `350510` -> (`350510`, `350511`)."""
    upper = str(int(code) + 1).zfill(len(code))
    return code, upper


async def area_groups(db: aiosqlite.Connection, code: str, *, ages: Ages) -> AreaGroups:
    """Counts per group for residents whose desa code starts with `code` (plain)."""
    async with db.execute(
        "SELECT count(*), sum(uw), sum(uw AND reach),"
        " sum(teen AND rec), sum(teen AND rec AND reach),"
        " sum(teen AND NOT rec), sum(teen AND NOT rec AND reach),"
        " sum(off), sum(off AND reach),"
        " sum((uw OR (teen AND NOT rec) OR off) AND NOT reach)"
        f" FROM (SELECT {UNRECORDED_WAJIB} AS uw, {TURNING_17} AS teen,"
        f" r.tanggal_rekam IS NOT NULL AS rec, {DEACTIVATED} AS off,"
        f" CASE WHEN {OUTREACH} OR {TURNING_17} THEN {REACHABLE} ELSE 0 END AS reach"
        " FROM residents r WHERE r.kode_desa >= :low AND r.kode_desa < :high)",
        ages.params(code),
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    n = [value or 0 for value in row]
    return AreaGroups(
        n[0], Reach(n[1], n[2]), Reach(n[3], n[4]), Reach(n[5], n[6]), Reach(n[7], n[8]), n[9]
    )


async def outreach_rows(
    db: aiosqlite.Connection, code: str, *, ages: Ages
) -> AsyncIterator[OutreachRow]:
    """The residents of the area's groups that the bot cannot reach, by desa and name."""
    async with db.execute(
        f"SELECT {opened('nama_sealed')} AS nama, r.kk_ref, {opened('lahir_sealed')},"
        " a.name,"
        f" CASE WHEN {DEACTIVATED} THEN 'deactivated'"
        f" WHEN {TURNING_17_UNRECORDED} THEN 'turning17' ELSE 'unrecorded' END"
        " FROM residents r JOIN areas a ON a.code = r.kode_desa"
        f" WHERE r.kode_desa >= :low AND r.kode_desa < :high AND {OUTREACH} AND NOT {REACHABLE}"
        " ORDER BY r.kode_desa, nama, r.nik_ref",
        ages.params(code),
    ) as cursor:
        async for row in cursor:
            yield OutreachRow(*row)


async def area_counts(
    db: aiosqlite.Connection, code: str, *, adult_born_by: date, cohort_born_by: date
) -> AreaCounts:
    """Counts for residents whose desa code starts with `code` (plain), for /statistik."""
    low, high = area_range(code)
    async with db.execute(
        "SELECT count(*),"
        " sum(tanggal_rekam IS NULL AND status_nik = 'AKTIF'"
        f"     AND ({born('<=', 'adult')} OR status_kawin <> 'BELUM KAWIN')),"
        " sum(tanggal_rekam IS NULL AND status_nik = 'AKTIF' AND status_kawin = 'BELUM KAWIN'"
        f"     AND {born('>', 'adult')} AND {born('<=', 'cohort')}),"
        " sum(status_nik = 'NONAKTIF')"
        " FROM residents r WHERE kode_desa >= :low AND kode_desa < :high",
        {
            "adult": adult_born_by.isoformat(),
            "cohort": cohort_born_by.isoformat(),
            "low": low,
            "high": high,
        },
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    linked = await _linked_chats(db, low, high)
    return AreaCounts(row[0], row[1] or 0, row[2] or 0, row[3] or 0, linked)


async def _linked_chats(db: aiosqlite.Connection, low: str, high: str) -> int:
    async with db.execute(
        "SELECT count(DISTINCT l.chat_id) FROM links l JOIN residents r"
        " ON (l.kind = 'nik' AND r.nik_ref = l.subject_ref)"
        " OR (l.kind = 'household' AND r.kk_ref = l.subject_ref)"
        " WHERE r.kode_desa >= ? AND r.kode_desa < ?",
        (low, high),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
