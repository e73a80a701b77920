"""Summaries for village officials (/rekap) and admins (/statistik), and the outreach list."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from bot import outreach_pdf
from bot.db import transaction
from bot.domain import Area, RoleUser
from bot.engine import Connection
from bot.errors import NotAuthorized
from bot.places import Place
from bot.services import elsewhere
from bot.services.figures import REGENCY_CODE, Figures, ages_on, area_scope, figures
from bot.storage import audit
from bot.storage.areas import get_area, list_children
from bot.storage.elsewhere import PlaceCount
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
    """The outreach list as a CSV or PDF file, ready to upload."""

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


async def rekap(db: Connection, user: RoleUser, *, today: date) -> Figures:
    """The figures of the account's area (an official's own, the regency for an admin)."""
    scope = await area_scope(db, area_code_for(user, "rekap"))
    return await figures(db, scope, today=today)


async def reported_elsewhere(db: Connection, user: RoleUser, *, today: date) -> list[PlaceCount]:
    """The unrecorded residents of the account's area whom a family reported living elsewhere,
    per place (another regency or city by name, abroad by country)."""
    return await elsewhere.area_places(db, area_code_for(user, "rekap"), today=today)


async def regency(db: Connection, *, today: date) -> Figures:
    """The regency's figures, for /statistik."""
    return await figures(db, await area_scope(db, REGENCY_CODE), today=today)


async def kecamatan_list(db: Connection) -> list[Area]:
    """The regency's kecamatan, for /statistik's choice."""
    return await list_children(db, REGENCY_CODE)


async def kecamatan(db: Connection, code: str, *, today: date) -> Figures:
    """A kecamatan's figures, as /rekap gives them to its official; LookupError for a code
    that is not a kecamatan of the regency (an old or forged button)."""
    area = await get_area(db, code)
    if area is None or area.level != "kecamatan" or area.parent_code != REGENCY_CODE:
        raise LookupError(f"not a kecamatan: {code!r}")
    return await figures(db, await area_scope(db, area.code), today=today)


async def outreach_list(
    db: Connection,
    user: RoleUser,
    *,
    status_names: Mapping[str, str],
    today: date,
    now: datetime,
    pdf_title: str | None = None,
    elsewhere_mark: Callable[[Place], str] | None = None,
) -> OutreachList:
    """The residents to visit (the bot cannot reach them), without NIKs, in walking order: as
    CSV, or as a printable PDF headed `pdf_title` (drawn in a worker thread); audited. The
    status of someone a family reported living elsewhere says so (`elsewhere_mark`)."""
    code = area_code_for(user, "rekap")
    rows = [row async for row in _walk(db, code, status_names, today, elsewhere_mark)]
    if pdf_title is None:
        kind, content = "csv", _csv(rows)
    else:
        kind = "pdf"
        content = await asyncio.to_thread(outreach_pdf.render, pdf_title, OUTREACH_HEADER, rows)
    async with transaction(db):
        detail = f"area={code} rows={len(rows)}"
        await audit.write_audit(db, user.telegram_id, f"rekap:outreach-{kind}", detail, now=now)
    filename = f"outreach-{code}-{today.isoformat()}.{kind}"
    return OutreachList(filename, io.BytesIO(content), len(rows))


async def _walk(
    db: Connection,
    code: str,
    status_names: Mapping[str, str],
    today: date,
    elsewhere_mark: Callable[[Place], str] | None,
) -> AsyncIterator[tuple[str, ...]]:
    """The list's rows in OUTREACH_HEADER's order."""
    families: dict[bytes, int] = {}  # KK lookup hash -> the family's number in this list
    async for row in outreach_rows(db, code, ages=ages_on(today)):
        family = families.setdefault(row.household, len(families) + 1)
        members = sorted(row.members.split(MEMBER_SEPARATOR)) if row.members else []
        yield (
            row.nama,
            row.tanggal_lahir,
            _status(status_names[row.status], row.elsewhere, elsewhere_mark),
            row.desa,
            row.rw or "",
            row.rt or "",
            row.alamat or "",
            str(family),
            "; ".join(members),
        )


def _status(name: str, place: str | None, mark: Callable[[Place], str] | None) -> str:
    """The group's name, and where a family reported the resident living (their word)."""
    known = Place.from_key(place) if place and mark else None
    return f"{name}; {mark(known)}" if known and mark else name


def _csv(rows: list[tuple[str, ...]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(OUTREACH_HEADER)
    for nama, born, status, desa, rw, rt, alamat, family, members in rows:
        row = (_cell(nama), born, status, desa, rw, rt, _cell(alamat), family, _cell(members))
        writer.writerow(row)
    return text.getvalue().encode("utf-8")


def _cell(value: str) -> str:
    """A name that a spreadsheet would take for a formula is kept as text."""
    return "'" + value if value.startswith(_FORMULA_START) else value
