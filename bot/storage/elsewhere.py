"""Reports that a linked resident lives elsewhere (another regency or city, or abroad).

A report belongs to the chat that made it (one per chat and resident) and names the resident
by the NIK's lookup hash. Where several chats reported one resident, the figures take the
latest report. Deleting the chat row deletes its reports (ON DELETE CASCADE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from bot.db import vault_of
from bot.places import Place
from bot.storage.residents import opened
from bot.storage.stats import LATEST_PLACE, OUTREACH, Ages
from bot.storage.stats import area_range as _area_range

_COLUMNS = (
    "e.id, e.chat_id, "
    f"{opened('nik_sealed')}, {opened('nama_sealed')},"
    " e.place_kind, e.place_code, e.since, e.reason, e.reported_at"
)


@dataclass(frozen=True)
class Report:
    """One chat's report about one resident, opened for the chat that made it."""

    id: int
    chat_id: int
    nik: str
    nama: str
    place_kind: str  # regency / abroad
    place_code: str  # Kemendagri regency code ('35.78') or ISO country code ('MY')
    since: date  # the first day of the month given
    reason: str | None  # work / study / marriage / other
    reported_at: datetime

    @property
    def place(self) -> Place:
        """Where the person is reported to live."""
        return Place(self.place_kind, self.place_code)


@dataclass(frozen=True)
class PlaceCount:
    """How many residents are reported living at one place."""

    place_kind: str
    place_code: str
    count: int

    @property
    def place(self) -> Place:
        """The place counted."""
        return Place(self.place_kind, self.place_code)


async def save_report(
    db: aiosqlite.Connection,
    chat_id: int,
    nik: str,
    *,
    place_kind: str,
    place_code: str,
    since: date,
    reason: str | None,
    now: datetime,
) -> tuple[int, bool]:
    """Store the chat's report about the resident, replacing its earlier one; returns the
    report's id and whether it is new."""
    ref = vault_of(db).ref(nik)
    values = (place_kind, place_code, since.strftime("%Y-%m"), reason, now.isoformat())
    cursor = await db.execute(
        "UPDATE living_elsewhere SET place_kind = ?, place_code = ?, since = ?, reason = ?,"
        " reported_at = ? WHERE chat_id = ? AND nik_ref = ? RETURNING id",
        (*values, chat_id, ref),
    )
    row = await cursor.fetchone()
    if row is not None:
        return int(row[0]), False
    cursor = await db.execute(
        "INSERT INTO living_elsewhere"
        " (chat_id, nik_ref, place_kind, place_code, since, reason, reported_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (chat_id, ref, *values),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid, True


async def list_reports(db: aiosqlite.Connection, chat_id: int) -> list[Report]:
    """The chat's reports, oldest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM living_elsewhere e JOIN residents r ON r.nik_ref = e.nik_ref"
        " WHERE e.chat_id = ? ORDER BY e.id",
        (chat_id,),
    ) as cursor:
        return [_report(row) async for row in cursor]


async def get_report(db: aiosqlite.Connection, report_id: int, chat_id: int) -> Report | None:
    """The report with this id if this chat made it."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM living_elsewhere e JOIN residents r ON r.nik_ref = e.nik_ref"
        " WHERE e.id = ? AND e.chat_id = ?",
        (report_id, chat_id),
    ) as cursor:
        row = await cursor.fetchone()
    return _report(row) if row else None


async def delete_report(db: aiosqlite.Connection, report_id: int) -> None:
    """Remove one report."""
    await db.execute("DELETE FROM living_elsewhere WHERE id = ?", (report_id,))


async def drop_unlinked(db: aiosqlite.Connection, chat_id: int) -> int:
    """Remove the chat's reports about residents none of its links covers any more."""
    cursor = await db.execute(
        "DELETE FROM living_elsewhere AS e WHERE e.chat_id = :chat AND NOT EXISTS ("
        " SELECT 1 FROM links l JOIN residents r ON r.nik_ref = e.nik_ref"
        " WHERE l.chat_id = :chat AND l.subject_ref ="
        " CASE l.kind WHEN 'nik' THEN r.nik_ref ELSE r.kk_ref END)",
        {"chat": chat_id},
    )
    return cursor.rowcount


async def area_places(db: aiosqlite.Connection, code: str, *, ages: Ages) -> list[PlaceCount]:
    """The area's residents in an outreach group (unrecorded, turning 17 unrecorded,
    deactivated) who are reported living elsewhere, counted per place (their latest report)."""
    low, high = _area_range(code)
    return await _places(
        db,
        f"r.kode_desa >= :low AND r.kode_desa < :high AND {OUTREACH}",
        {"low": low, "high": high, **ages.dates()},
    )


async def places_where(
    db: aiosqlite.Connection, where: str, params: dict[str, object]
) -> list[PlaceCount]:
    """Residents matching `where` (SQL over `r`) reported living elsewhere, per place."""
    return await _places(db, where, params)


async def _places(
    db: aiosqlite.Connection, where: str, params: dict[str, object]
) -> list[PlaceCount]:
    # The reports drive the loop: a few rows, each reaching its resident by primary key.
    async with db.execute(
        "SELECT substr(place, 1, instr(place, ':') - 1), substr(place, instr(place, ':') + 1),"
        " count(*) FROM (SELECT DISTINCT r.nik_ref, "
        f"{LATEST_PLACE} AS place FROM living_elsewhere AS x CROSS JOIN residents AS r"
        f" ON r.nik_ref = x.nik_ref WHERE {where})"
        " GROUP BY place ORDER BY count(*) DESC, place",
        params,
    ) as cursor:
        return [PlaceCount(kind, place, count) async for kind, place, count in cursor]


def _report(row: aiosqlite.Row) -> Report:
    year, month = row[6].split("-")
    return Report(
        id=row[0],
        chat_id=row[1],
        nik=row[2],
        nama=row[3],
        place_kind=row[4],
        place_code=row[5],
        since=date(int(year), int(month), 1),
        reason=row[7],
        reported_at=datetime.fromisoformat(row[8]),
    )
