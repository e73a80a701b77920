"""The annual deactivation: its runs, the cohort still unrecorded, and the update itself.

The cohort of a cycle: residents wajib KTP on its cohort date (born on or before `born_by`, the
last birth date of someone 17 by then, or married / ever married) who are AKTIF and have never
recorded. Every query here takes `born_by`; the service computes it from the cycle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.db import vault_of
from bot.engine import Connection, is_postgresql
from bot.storage.elsewhere import PlaceCount, places_where
from bot.storage.residents import born, open_sealed, opened

_UNRECORDED = "r.tanggal_rekam IS NULL AND r.status_nik = 'AKTIF'"
# SQLite opens the birth dates of `born_by`'s year in SQL (`born`). PostgreSQL cannot: those
# residents (unmarried: the married are in whatever their age) are read first, their dates
# opened in Python, and the ones born by then named by hash (`:boundary`, `_params`).
_COHORT = f"{_UNRECORDED} AND ({born('<=', 'born_by')} OR r.status_kawin <> 'BELUM KAWIN')"
_COHORT_POSTGRESQL = (
    f"{_UNRECORDED} AND (r.tahun_lahir < :born_year OR r.nik_ref = ANY(:boundary)"
    " OR r.status_kawin <> 'BELUM KAWIN')"
)
_BOUNDARY = (
    f"SELECT r.nik_ref, r.lahir_sealed FROM residents r WHERE {_UNRECORDED}"
    " AND r.tahun_lahir = :born_year AND r.status_kawin = 'BELUM KAWIN'"
)
_RUN_COLUMNS = (
    "id, deadline, cohort_date, state, counts, total, previewed_at, approved_by, applied_at,"
    " applied_count"
)


@dataclass(frozen=True)
class DesaRow:
    """How many of the cohort live in one desa/kelurahan, with the area names."""

    kecamatan_code: str
    kecamatan_name: str
    desa_code: str
    desa_name: str
    count: int


@dataclass(frozen=True)
class RunRow:
    """One stored deactivation run."""

    id: int
    deadline: date
    cohort_date: date
    state: str  # previewed / applied
    desa: list[DesaRow]  # as previewed
    total: int
    previewed_at: datetime
    approved_by: int | None
    applied_at: datetime | None
    applied_count: int | None


@dataclass(frozen=True)
class LinkedPerson:
    """A cohort member and a chat that asked for reminders about them."""

    chat_id: int
    nik: str
    nama: str
    locale: str | None = None  # the chat's language; None if it has no chat row
    nik_ref: bytes = b""  # the NIK's lookup hash (bot/crypto.py), for outbox keys
    elsewhere: str | None = None  # `regency:<code>` / `abroad:<country>`: the chat's report


async def cohort_per_desa(db: Connection, *, born_by: date) -> list[DesaRow]:
    """The cohort counted per desa, in area-code order."""
    async with db.execute(
        "SELECT k.code, k.name, d.code, d.name, count(*) FROM residents r"
        " JOIN areas d ON d.code = r.kode_desa JOIN areas k ON k.code = d.parent_code"
        f" WHERE {_cohort(db)} GROUP BY d.code, k.code ORDER BY d.code",
        await _params(db, born_by),
    ) as cursor:
        return [DesaRow(*row) async for row in cursor]


async def count_cohort(db: Connection, *, born_by: date) -> int:
    """How many residents the deactivation would set NONAKTIF right now."""
    async with db.execute(
        f"SELECT count(*) FROM residents r WHERE {_cohort(db)}", await _params(db, born_by)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def cohort_places(db: Connection, *, born_by: date) -> list[PlaceCount]:
    """The cohort's residents reported living elsewhere, counted per place (latest report)."""
    return await places_where(db, _cohort(db), await _params(db, born_by))


async def cohort_linked_chats(db: Connection, *, born_by: date) -> list[LinkedPerson]:
    """Chats with reminders on, linked to a cohort member by NIK or by household (KK), with the
    chat's language. The links drive the loop (SQLite's CROSS JOIN): far fewer than the
    residents."""
    locale = "(SELECT c.locale FROM chats AS c WHERE c.chat_id = l.chat_id)"
    # The chat's own report that the resident lives elsewhere (bot/storage/elsewhere.py).
    place = (
        "(SELECT e.place_kind || ':' || e.place_code FROM living_elsewhere AS e"
        " WHERE e.chat_id = l.chat_id AND e.nik_ref = r.nik_ref)"
    )
    postgresql = is_postgresql(db)
    # PostgreSQL: the sealed NIK and name, opened below (the same rows, so UNION still merges).
    nik, nama = (
        ("r.nik_sealed", "r.nama_sealed")
        if postgresql
        else (opened("nik_sealed"), opened("nama_sealed"))
    )
    person = f"l.chat_id, {nik}, {nama}, {locale}, r.nik_ref, {place}"
    cohort = _cohort(db)
    join = "JOIN" if postgresql else "CROSS JOIN"  # PostgreSQL's planner needs no hint
    rows = await db.execute_fetchall(
        f"SELECT {person} FROM links l {join} residents r"
        " ON l.kind = 'nik' AND l.subject_ref = r.nik_ref"
        f" WHERE l.reminders_on = 1 AND {cohort}"
        f" UNION SELECT {person} FROM links l {join} residents r"
        " ON l.kind = 'household' AND l.subject_ref = r.kk_ref"
        f" WHERE l.reminders_on = 1 AND {cohort} ORDER BY 1, 2",
        await _params(db, born_by),
    )
    if not postgresql:
        return [LinkedPerson(*row) for row in rows]
    vault = vault_of(db)
    people = [
        LinkedPerson(
            chat,
            open_sealed(vault, "nik_sealed", nik, ref),
            open_sealed(vault, "nama_sealed", nama, ref),
            locale,
            bytes(ref),
            place,
        )
        for chat, nik, nama, locale, ref, place in rows
    ]
    return sorted(people, key=lambda person: (person.chat_id, person.nik))


async def deactivate_cohort(db: Connection, *, born_by: date, today: date, now: datetime) -> int:
    """Set the cohort NONAKTIF as of `today`; return how many NIKs changed."""
    cursor = await db.execute(
        "UPDATE residents AS r SET status_nik = 'NONAKTIF', deactivated_on = :today,"
        f" updated_at = :now WHERE {_cohort(db)}",
        {
            **await _params(db, born_by),
            "today": today.isoformat(),
            "now": now.astimezone(UTC).isoformat(),
        },
    )
    return cursor.rowcount


async def insert_run(
    db: Connection,
    *,
    deadline: date,
    cohort_date: date,
    desa: list[DesaRow],
    now: datetime,
) -> bool:
    """Store a cycle's preview; False when that cycle already has a run."""
    counts = [[r.kecamatan_code, r.kecamatan_name, r.desa_code, r.desa_name, r.count] for r in desa]
    cursor = await db.execute(
        "INSERT INTO deactivation_runs (deadline, cohort_date, counts, total, previewed_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (deadline) DO NOTHING",
        (
            deadline.isoformat(),
            cohort_date.isoformat(),
            json.dumps(counts, ensure_ascii=False),
            sum(r.count for r in desa),
            now.astimezone(UTC).isoformat(),
        ),
    )
    return cursor.rowcount == 1


async def get_run(db: Connection, run_id: int) -> RunRow | None:
    """The run with this id, or None."""
    return await _one(db, f"SELECT {_RUN_COLUMNS} FROM deactivation_runs WHERE id = ?", run_id)


async def get_run_for(db: Connection, deadline: date) -> RunRow | None:
    """The run of the cycle with this deadline, or None."""
    return await _one(
        db, f"SELECT {_RUN_COLUMNS} FROM deactivation_runs WHERE deadline = ?", deadline.isoformat()
    )


async def mark_applied(
    db: Connection, run_id: int, *, admin_id: int, count: int, now: datetime
) -> bool:
    """Record the approval and how many NIKs changed; False if it was applied already."""
    cursor = await db.execute(
        "UPDATE deactivation_runs SET state = 'applied', approved_by = ?, applied_at = ?,"
        " applied_count = ? WHERE id = ? AND state = 'previewed'",
        (admin_id, now.astimezone(UTC).isoformat(), count, run_id),
    )
    return cursor.rowcount == 1


def _cohort(db: Connection) -> str:
    return _COHORT_POSTGRESQL if is_postgresql(db) else _COHORT


async def _params(db: Connection, born_by: date) -> dict[str, Any]:
    """The cohort's parameters; on PostgreSQL with the hashes of the unmarried born in
    `born_by`'s year by then (their birth dates opened here)."""
    params: dict[str, Any] = {"born_by": born_by.isoformat()}
    if not is_postgresql(db):
        return params
    params["born_year"] = born_by.year
    vault = vault_of(db)
    rows = await db.execute_fetchall(_BOUNDARY, params)
    params["boundary"] = [
        bytes(ref)
        for ref, blob in rows
        if date.fromisoformat(open_sealed(vault, "lahir_sealed", blob, ref)) <= born_by
    ]
    return params


async def _one(db: Connection, query: str, *params: object) -> RunRow | None:
    async with db.execute(query, params) as cursor:
        row = await cursor.fetchone()
    return _run(row) if row else None


def _run(row: Any) -> RunRow:
    return RunRow(
        id=row[0],
        deadline=date.fromisoformat(row[1]),
        cohort_date=date.fromisoformat(row[2]),
        state=row[3],
        desa=[DesaRow(*item) for item in json.loads(row[4])],
        total=row[5],
        previewed_at=datetime.fromisoformat(row[6]),
        approved_by=row[7],
        applied_at=datetime.fromisoformat(row[8]) if row[8] else None,
        applied_count=row[9],
    )
