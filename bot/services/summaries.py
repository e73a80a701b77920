"""Summaries for village officials (/rekap) and admins (/statistik), and the outreach list."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from bot.db import transaction
from bot.domain import RoleUser
from bot.errors import NotAuthorized
from bot.services.figures import REGENCY_CODE, Figures, ages_on, area_scope, figures
from bot.storage import audit
from bot.storage.stats import MEMBER_SEPARATOR, outreach_rows

# No NIK, masked or not: next to the birth date and desa a masked NIK is the NIK (its middle
# digits are the birth date). Name, birth date, desa, address and family identify a resident to
# the village official; `keluarga` numbers the families within the list (1, 2, ...) and
# `anggota_keluarga` names the household's other members. RT, RW and alamat are empty unless the
# import carried them. Rows come in walking order: desa, RW, RT, address.
OUTREACH_HEADER = (
    "nama",
    "tanggal_lahir",
    "status",
    "desa",
    "rw",
    "rt",
    "alamat",
    "keluarga",
    "anggota_keluarga",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


@dataclass(frozen=True)
class OutreachList:
    """The outreach list as a CSV file, ready to upload."""

    filename: str
    content: io.BytesIO
    rows: int


def area_code_for(user: RoleUser, command: str) -> str:
    """The area an account's /rekap or /siaran covers: an official's own, the regency for an
    admin; NotAuthorized for anyone else."""
    if user.role == "admin":
        return REGENCY_CODE
    if user.role == "official" and user.area_code:
        return user.area_code
    raise NotAuthorized(command=command)


async def rekap(db: aiosqlite.Connection, user: RoleUser, *, today: date) -> Figures:
    """The figures of the account's area (an official's own, the regency for an admin)."""
    scope = await area_scope(db, area_code_for(user, "rekap"))
    return await figures(db, scope, today=today)


async def regency(db: aiosqlite.Connection, *, today: date) -> Figures:
    """The regency's figures, for /statistik."""
    return await figures(db, await area_scope(db, REGENCY_CODE), today=today)


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
        members = sorted(row.members.split(MEMBER_SEPARATOR)) if row.members else []
        writer.writerow(
            [
                _cell(row.nama),
                row.tanggal_lahir,
                status,
                row.desa,
                row.rw or "",
                row.rt or "",
                _cell(row.alamat or ""),
                family,
                _cell("; ".join(members)),
            ]
        )
        rows += 1
    text.detach()  # keep the BytesIO open after the wrapper goes
    content.seek(0)
    async with transaction(db):
        detail = f"area={code} rows={rows}"
        await audit.write_audit(db, user.telegram_id, "rekap:outreach-csv", detail, now=now)
    return OutreachList(f"outreach-{code}-{today.isoformat()}.csv", content, rows)


def _cell(value: str) -> str:
    """A name that a spreadsheet would take for a formula is kept as text."""
    return "'" + value if value.startswith(_FORMULA_START) else value
