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

from bot.storage.addresses import opened_alamat
from bot.storage.residents import born, born_between, opened

WAJIB = f"({born('<=', 'adult')} OR r.status_kawin <> 'BELUM KAWIN')"
UNRECORDED_WAJIB = f"(r.tanggal_rekam IS NULL AND r.status_nik = 'AKTIF' AND {WAJIB})"
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
# Where a family reported the resident of the row `r` lives (`regency:<code>`, `abroad:<ISO>`):
# the latest report, whichever chat made it (bot/storage/elsewhere.py); NULL without one.
LATEST_PLACE = (
    "(SELECT e.place_kind || ':' || e.place_code FROM living_elsewhere e"
    " WHERE e.nik_ref = r.nik_ref ORDER BY e.reported_at DESC, e.id DESC LIMIT 1)"
)


@dataclass(frozen=True)
class Ages:
    """The birth-date bounds of the groups on one day (see the module docstring)."""

    adult: date
    teen_from: date
    teen_to: date

    def params(self, code: str) -> dict[str, Any]:
        """Named SQL parameters for the groups of area `code`."""
        low, high = area_range(code)
        return {"low": low, "high": high, **self.dates()}

    def dates(self) -> dict[str, Any]:
        """Named SQL parameters `:adult`, `:teen_from` and `:teen_to`."""
        return {
            "adult": self.adult.isoformat(),
            "teen_from": self.teen_from.isoformat(),
            "teen_to": self.teen_to.isoformat(),
        }


@dataclass(frozen=True)
class OutreachRow:
    """One resident to visit; no NIK or KK number, only the KK's lookup hash to group a family."""

    nama: str
    household: bytes  # the KK number's lookup hash: equal for members of one family
    tanggal_lahir: str
    desa: str
    status: str  # deactivated / turning17 / unrecorded
    rw: str | None  # RW, RT and address when the import carried them
    rt: str | None
    alamat: str | None
    members: str | None  # the other members' names, joined by MEMBER_SEPARATOR
    elsewhere: str | None = None  # where a family reported them living (LATEST_PLACE)


MEMBER_SEPARATOR = "\x1f"
_MEMBERS = (
    f"(SELECT group_concat({opened('nama_sealed', 'm')}, char(31)) FROM residents m"
    " WHERE m.kk_ref = r.kk_ref AND m.nik_ref <> r.nik_ref)"
)


def area_range(code: str) -> tuple[str, str]:
    """Bounds of plain desa codes inside an area: `350510` -> (`350510`, `350511`)."""
    upper = str(int(code) + 1).zfill(len(code))
    return code, upper


async def outreach_rows(
    db: aiosqlite.Connection, code: str, *, ages: Ages
) -> AsyncIterator[OutreachRow]:
    """The residents of the area's groups that the bot cannot reach, in walking order: by desa,
    RW, RT and address (those without one last), then name."""
    async with db.execute(
        f"SELECT {opened('nama_sealed')} AS nama, r.kk_ref, {opened('lahir_sealed')},"
        " a.name,"
        f" CASE WHEN {DEACTIVATED} THEN 'deactivated'"
        f" WHEN {TURNING_17_UNRECORDED} THEN 'turning17' ELSE 'unrecorded' END,"
        f" ad.rw, ad.rt, {opened_alamat('ad')} AS alamat, {_MEMBERS}, {LATEST_PLACE}"
        " FROM residents r JOIN areas a ON a.code = r.kode_desa"
        " LEFT JOIN resident_addresses ad ON ad.nik_ref = r.nik_ref"
        f" WHERE r.kode_desa >= :low AND r.kode_desa < :high AND {OUTREACH} AND NOT {REACHABLE}"
        " ORDER BY r.kode_desa, ad.rw IS NULL, CAST(ad.rw AS INTEGER),"
        " ad.rt IS NULL, CAST(ad.rt AS INTEGER), alamat IS NULL, alamat, nama, r.nik_ref",
        ages.params(code),
    ) as cursor:
        async for row in cursor:
            yield OutreachRow(*row)
