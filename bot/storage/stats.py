"""Counts and lists of residents per area for officials' and admins' summaries.

Every query is bounded by an area's range of plain desa codes (`area_range`), so the
`residents_desa` index keeps a village's summary fast whatever the size of the regency.
The groups are SQL over `r` (residents) with named parameters: `:adult`, the latest birth date
of someone 17 today; `:teen_from` and `:teen_to`, the birth dates of those who turn 17 in the
cohort year of the cycle in force.

Those groups open birth dates in SQL (SQLite's vault functions). PostgreSQL has no such function
(the key never reaches the server): there the `*_YEARS` groups select by the clear birth year
(the boundary years' rows whole) and `Ages.outreach` decides each candidate after opening its
birth date in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bot.db import vault_of
from bot.engine import Connection, is_postgresql
from bot.storage.addresses import open_alamat, opened_alamat
from bot.storage.residents import (
    born,
    born_between,
    born_years,
    born_years_between,
    open_sealed,
    opened,
)

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
# The same on the clear birth year alone: a superset, decided by `Ages.outreach` (PostgreSQL).
WAJIB_YEARS = f"({born_years('<=', 'adult')} OR r.status_kawin <> 'BELUM KAWIN')"
TURNING_17_YEARS = born_years_between("teen_from", "teen_to")
OUTREACH_YEARS = (
    f"({DEACTIVATED} OR (r.tanggal_rekam IS NULL AND r.status_nik = 'AKTIF' AND {WAJIB_YEARS})"
    f" OR ({TURNING_17_YEARS} AND r.tanggal_rekam IS NULL))"
)
# What `Ages.outreach` reads of the resident `r` (with `Standing.of`).
STANDING = "r.nik_ref, r.lahir_sealed, r.status_kawin, r.tanggal_rekam, r.status_nik"
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

    def outreach(self, person: Standing) -> str | None:
        """The outreach group (`deactivated`, `turning17`, `unrecorded`) of a resident, as the
        SQL groups decide it (`OUTREACH` and `outreach_rows`' CASE), or None."""
        if person.status_nik == "NONAKTIF":
            return "deactivated"
        if person.tanggal_rekam is not None:
            return None
        if self.turning_17(person.born):
            return "turning17"
        wajib = person.born <= self.adult or person.status_kawin != "BELUM KAWIN"
        return "unrecorded" if wajib and person.status_nik == "AKTIF" else None

    def turning_17(self, birth: date) -> bool:
        """`TURNING_17` of a birth date."""
        return self.teen_from <= birth <= self.teen_to

    def dates(self) -> dict[str, Any]:
        """Named SQL parameters `:adult`, `:teen_from` and `:teen_to`."""
        return {
            "adult": self.adult.isoformat(),
            "teen_from": self.teen_from.isoformat(),
            "teen_to": self.teen_to.isoformat(),
        }


@dataclass(frozen=True)
class Standing:
    """What decides a resident's groups in Python (the `STANDING` columns, birth date opened)."""

    born: date
    status_kawin: str
    tanggal_rekam: str | None
    status_nik: str

    @classmethod
    def of(cls, db: Connection, row: Sequence[Any]) -> Standing:
        """From the `STANDING` columns of a row."""
        ref, lahir, kawin, rekam, status = row
        born = date.fromisoformat(open_sealed(vault_of(db), "lahir_sealed", lahir, ref))
        return cls(born, kawin, rekam, status)


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


async def outreach_rows(db: Connection, code: str, *, ages: Ages) -> AsyncIterator[OutreachRow]:
    """The residents of the area's groups that the bot cannot reach, in walking order: by desa,
    RW, RT and address (those without one last), then name."""
    if is_postgresql(db):
        for opened_row in await _outreach_opened(db, code, ages):
            yield opened_row
        return
    async with db.execute(
        f"SELECT {opened('nama_sealed')} AS nama, r.kk_ref, {opened('lahir_sealed')},"
        " a.name,"
        f" CASE WHEN {DEACTIVATED} THEN 'deactivated'"
        f" WHEN {TURNING_17_UNRECORDED} THEN 'turning17' ELSE 'unrecorded' END,"
        f" ad.rw, ad.rt, {opened_alamat('ad')} AS alamat, {_MEMBERS}, {LATEST_PLACE}"
        f" {_OUTREACH_FROM.format(OUTREACH, REACHABLE)}"
        " ORDER BY r.kode_desa, ad.rw IS NULL, CAST(ad.rw AS INTEGER),"
        " ad.rt IS NULL, CAST(ad.rt AS INTEGER), alamat IS NULL, alamat, nama, r.nik_ref",
        ages.params(code),
    ) as cursor:
        async for row in cursor:
            yield OutreachRow(*row)


_OUTREACH_FROM = (
    "FROM residents r JOIN areas a ON a.code = r.kode_desa"
    " LEFT JOIN resident_addresses ad ON ad.nik_ref = r.nik_ref"
    " WHERE r.kode_desa >= :low AND r.kode_desa < :high AND {} AND NOT {}"
)


async def _outreach_opened(db: Connection, code: str, ages: Ages) -> list[OutreachRow]:
    """`outreach_rows` where the SQL cannot open (PostgreSQL): the candidates by birth year,
    decided, opened, given their households' other members and sorted here."""
    vault = vault_of(db)
    query = (
        f"SELECT {STANDING}, r.kk_ref, r.nama_sealed, a.name, ad.rw, ad.rt, ad.alamat_sealed,"
        f" {LATEST_PLACE}, r.kode_desa {_OUTREACH_FROM.format(OUTREACH_YEARS, REACHABLE)}"
    )
    found = []
    for row in await db.execute_fetchall(query, ages.params(code)):
        status = ages.outreach(person := Standing.of(db, row[:5]))
        if status is None:
            continue
        ref, (kk_ref, nama, desa, rw, rt, alamat, place, kode) = row[0], row[5:]
        nama, alamat = open_sealed(vault, "nama_sealed", nama, ref), open_alamat(vault, alamat, ref)
        line = OutreachRow(
            nama, bytes(kk_ref), person.born.isoformat(), desa, status, rw, rt, alamat, None, place
        )
        found.append((_walking_order(kode, rw, rt, alamat, nama, ref), line))
    households = await _households(db, {line.household for _, line in found})
    rows = []
    for order, line in sorted(found, key=lambda item: item[0]):
        others = [name for member, name in households[line.household] if member != order[-1]]
        members = MEMBER_SEPARATOR.join(others) if others else None
        rows.append(replace(line, members=members))
    return rows


def _walking_order(
    desa: str, rw: str | None, rt: str | None, alamat: str | None, nama: str, ref: bytes
) -> tuple[Any, ...]:
    """outreach_rows' ORDER BY (text compared as SQLite and a C-collated PostgreSQL do)."""
    return (
        desa,
        rw is None,
        int(rw or 0),
        rt is None,
        int(rt or 0),
        alamat is None,
        alamat or "",
        nama,
        bytes(ref),
    )


async def _households(db: Connection, kk_refs: set[bytes]) -> dict[bytes, list[tuple[bytes, str]]]:
    """Each household's members (nik_ref, name opened), by lookup hash."""
    vault = vault_of(db)
    members: dict[bytes, list[tuple[bytes, str]]] = defaultdict(list)
    rows = await db.execute_fetchall(
        "SELECT kk_ref, nik_ref, nama_sealed FROM residents WHERE kk_ref = ANY(?)"
        " ORDER BY kk_ref, nik_ref",
        (list(kk_refs),),
    )
    for kk_ref, ref, nama in rows:
        members[bytes(kk_ref)].append((bytes(ref), open_sealed(vault, "nama_sealed", nama, ref)))
    return members
