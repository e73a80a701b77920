"""Reports that a linked resident lives elsewhere (another regency or city, or abroad).

A report belongs to the chat that made it (one per chat and resident) and names the resident
by the NIK's lookup hash. Where several chats reported one resident, the figures take the
latest report. Deleting the chat row deletes its reports (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.db import vault_of
from bot.engine import Connection, is_postgresql
from bot.places import Place
from bot.storage.residents import open_sealed, opened
from bot.storage.stats import LATEST_PLACE, OUTREACH_YEARS, STANDING, Ages, Standing
from bot.storage.stats import area_range as _area_range

_REPORT = "e.id, e.chat_id, {}, e.place_kind, e.place_code, e.since, e.reason, e.reported_at"
# SQLite opens the resident's NIK and name in SQL; PostgreSQL selects them sealed with the
# resident's nik_ref (last), opened in `_report`.
_OPENED = _REPORT.format(f"{opened('nik_sealed')}, {opened('nama_sealed')}")
_SEALED = _REPORT.format("r.nik_sealed, r.nama_sealed") + ", r.nik_ref"


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
    db: Connection,
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
    (row,) = await db.execute_fetchall(
        "INSERT INTO living_elsewhere"
        " (chat_id, nik_ref, place_kind, place_code, since, reason, reported_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (chat_id, ref, *values),
    )
    return int(row[0]), True


async def list_reports(db: Connection, chat_id: int) -> list[Report]:
    """The chat's reports, oldest first."""
    rows = await db.execute_fetchall(
        f"SELECT {_columns(db)} FROM living_elsewhere e JOIN residents r ON r.nik_ref = e.nik_ref"
        " WHERE e.chat_id = ? ORDER BY e.id",
        (chat_id,),
    )
    return [_report(db, row) for row in rows]


async def get_report(db: Connection, report_id: int, chat_id: int) -> Report | None:
    """The report with this id if this chat made it."""
    rows = list(
        await db.execute_fetchall(
            f"SELECT {_columns(db)} FROM living_elsewhere e"
            " JOIN residents r ON r.nik_ref = e.nik_ref WHERE e.id = ? AND e.chat_id = ?",
            (report_id, chat_id),
        )
    )
    return _report(db, rows[0]) if rows else None


async def delete_report(db: Connection, report_id: int) -> None:
    """Remove one report."""
    await db.execute("DELETE FROM living_elsewhere WHERE id = ?", (report_id,))


async def drop_unlinked(db: Connection, chat_id: int) -> int:
    """Remove the chat's reports about residents none of its links covers any more."""
    cursor = await db.execute(
        "DELETE FROM living_elsewhere AS e WHERE e.chat_id = :chat AND NOT EXISTS ("
        " SELECT 1 FROM links l JOIN residents r ON r.nik_ref = e.nik_ref"
        " WHERE l.chat_id = :chat AND l.subject_ref ="
        " CASE l.kind WHEN 'nik' THEN r.nik_ref ELSE r.kk_ref END)",
        {"chat": chat_id},
    )
    return cursor.rowcount


async def area_places(db: Connection, code: str, *, ages: Ages) -> list[PlaceCount]:
    """The area's residents in an outreach group (unrecorded, turning 17 unrecorded,
    deactivated) who are reported living elsewhere, counted per place (their latest report).
    Selected by birth year, decided after opening the birth date (`Ages.outreach`): the
    reports are few, and PostgreSQL cannot open in SQL."""
    low, high = _area_range(code)
    return await places_where(
        db,
        f"r.kode_desa >= :low AND r.kode_desa < :high AND {OUTREACH_YEARS}",
        {"low": low, "high": high, **ages.dates()},
        keep=lambda person: ages.outreach(person) is not None,
    )


async def places_where(
    db: Connection,
    where: str,
    params: dict[str, object],
    *,
    keep: Callable[[Standing], bool] | None = None,
) -> list[PlaceCount]:
    """Residents matching `where` (SQL over `r`) and `keep` (their `Standing`, birth date
    opened: for PostgreSQL, where `where` can only select by birth year) reported living
    elsewhere, per place."""
    # The reports drive the loop: a few rows, each reaching its resident by primary key
    # (SQLite's CROSS JOIN keeps that order; PostgreSQL's planner finds it).
    join = "JOIN" if is_postgresql(db) else "CROSS JOIN"
    rows = await db.execute_fetchall(
        f"SELECT DISTINCT {STANDING}, {LATEST_PLACE} AS place FROM living_elsewhere AS x"
        f" {join} residents AS r ON r.nik_ref = x.nik_ref WHERE {where}",
        params,
    )
    counts = Counter(row[-1] for row in rows if keep is None or keep(Standing.of(db, row[:-1])))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [PlaceCount(*_kind_and_code(place), count) for place, count in ranked]


def _kind_and_code(place: str) -> tuple[str, str]:
    """`regency:35.78` -> (`regency`, `35.78`)."""
    kind, code = place.split(":", 1)
    return kind, code


def _columns(db: Connection) -> str:
    return _SEALED if is_postgresql(db) else _OPENED


def _report(db: Connection, row: Sequence[Any]) -> Report:
    """A report from the columns of `_columns(db)`."""
    nik, nama = row[2], row[3]
    if is_postgresql(db):
        vault, ref = vault_of(db), row[9]
        nik, nama = (
            open_sealed(vault, f, v, ref) for f, v in (("nik_sealed", nik), ("nama_sealed", nama))
        )
    year, month = row[6].split("-")
    return Report(
        id=row[0],
        chat_id=row[1],
        nik=nik,
        nama=nama,
        place_kind=row[4],
        place_code=row[5],
        since=date(int(year), int(month), 1),
        reason=row[7],
        reported_at=datetime.fromisoformat(row[8]),
    )
