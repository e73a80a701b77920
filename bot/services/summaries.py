"""Summaries for village officials (/rekap) and admins (/statistik), and the outreach list."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from bot.db import transaction
from bot.domain import Area, RoleUser
from bot.errors import NotAuthorized
from bot.services.cycle import WAJIB_KTP_AGE, Cycle, birthday_at, cycle_in_force
from bot.storage import audit
from bot.storage.areas import get_area
from bot.storage.stats import Ages, AreaCounts, AreaGroups, area_counts, area_groups, outreach_rows

REGENCY_CODE = "3505"
# No NIK, masked or not: next to the birth date and desa a masked NIK is the NIK (its middle
# digits are the birth date). Name, birth date, desa and family identify a resident to the
# village official; `keluarga` numbers the families within the list (1, 2, ...).
OUTREACH_HEADER = ("nama", "tanggal_lahir", "desa", "keluarga", "status")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


@dataclass(frozen=True)
class AreaSummary:
    """An area's counts in the cycle in force."""

    area: Area
    counts: AreaCounts
    cycle: Cycle


@dataclass(frozen=True)
class Rekap:
    """An official's /rekap: the area's groups, each with how many the bot can reach."""

    area: Area
    groups: AreaGroups
    cycle: Cycle

    @property
    def teen_year(self) -> int:
        """The year in which the cycle's teens turn 17."""
        return self.cycle.cohort_date.year


@dataclass(frozen=True)
class OutreachList:
    """The outreach list as a CSV file, ready to upload."""

    filename: str
    content: io.BytesIO
    rows: int


def ages_on(today: date) -> Ages:
    """Birth-date bounds of the groups today: adults, and the cycle's teens turning 17."""
    cycle = cycle_in_force(today)
    teen_to = _born_by(cycle.cohort_date)
    return Ages(adult=_born_by(today), teen_from=teen_to.replace(month=1, day=1), teen_to=teen_to)


def area_code_for(user: RoleUser, command: str) -> str:
    """The area an account's /rekap or /siaran covers: an official's own, the regency for an
    admin; NotAuthorized for anyone else."""
    if user.role == "admin":
        return REGENCY_CODE
    if user.role == "official" and user.area_code:
        return user.area_code
    raise NotAuthorized(command=command)


async def summarize_area(db: aiosqlite.Connection, code: str, *, today: date) -> AreaSummary:
    """Residents, unrecorded wajib KTP, turning 17 this cycle and deactivated, for one area."""
    area = await _area(db, code)
    cycle = cycle_in_force(today)
    counts = await area_counts(
        db,
        area.code,
        adult_born_by=_born_by(today),
        cohort_born_by=_born_by(cycle.cohort_date),
    )
    return AreaSummary(area, counts, cycle)


async def rekap(db: aiosqlite.Connection, user: RoleUser, *, today: date) -> Rekap:
    """The account's area per group (wajib KTP unrecorded, turning 17, deactivated) and reach."""
    area = await _area(db, area_code_for(user, "rekap"))
    groups = await area_groups(db, area.code, ages=ages_on(today))
    return Rekap(area, groups, cycle_in_force(today))


async def outreach_list(
    db: aiosqlite.Connection,
    user: RoleUser,
    *,
    status_names: Mapping[str, str],
    today: date,
    now: datetime,
) -> OutreachList:
    """CSV of the residents to visit (the bot cannot reach them), without NIKs; audited."""
    code = area_code_for(user, "rekap")
    content = io.BytesIO()
    text = io.TextIOWrapper(content, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(OUTREACH_HEADER)
    families: dict[bytes, int] = {}  # KK lookup hash -> the family's number in this list
    rows = 0
    async for row in outreach_rows(db, code, ages=ages_on(today)):
        family = families.setdefault(row.household, len(families) + 1)
        status = status_names[row.status]
        writer.writerow([_cell(row.nama), row.tanggal_lahir, row.desa, family, status])
        rows += 1
    text.detach()  # keep the BytesIO open after the wrapper goes
    content.seek(0)
    async with transaction(db):
        detail = f"area={code} rows={rows}"
        await audit.write_audit(db, user.telegram_id, "rekap:outreach-csv", detail, now=now)
    return OutreachList(f"outreach-{code}-{today.isoformat()}.csv", content, rows)


async def _area(db: aiosqlite.Connection, code: str) -> Area:
    area = await get_area(db, code)
    if area is None:
        raise LookupError(f"unknown area {code}")
    return area


def _cell(value: str) -> str:
    """A name that a spreadsheet would take for a formula is kept as text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _born_by(day: date) -> date:
    """Latest birth date of someone who is 17 on `day`."""
    return birthday_at(day, -WAJIB_KTP_AGE)
