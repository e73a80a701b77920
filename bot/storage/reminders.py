"""The residents a chat asked reminders about, selected for the reminder rules.

Every query starts from the links with reminders on (a few per chat) and reaches residents by
NIK (primary key) or by KK number (the partial index residents_unrecorded, or residents_kk),
so it reads the linked residents only, never the whole population. Each narrows them further to
those a rule can concern (status, not recorded, a birth-date window); the exact due days are
computed by bot.services.reminders.
A chat that reaches a resident both by NIK and by household gets one row (UNION). Each row
carries the chat's language, so a planner renders thousands of reminders without a query each.

SQLite opens the sealed columns and compares birth dates in SQL (its vault's functions). On
PostgreSQL, which never gets the key, the birth-date windows select the clear birth years, the
blobs come back and are opened in Python, where the exact window is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.engine import Connection, is_postgresql
from bot.storage.residents import (
    born,
    born_between,
    born_years,
    born_years_between,
    open_sealed,
    opened,
)

_SEALED = ("nik_sealed", "nama_sealed", "lahir_sealed")
_SELECT = (
    "SELECT l.chat_id, {columns}, r.status_kawin, r.deactivated_on,"
    " (SELECT c.locale FROM chats AS c WHERE c.chat_id = l.chat_id), r.nik_ref,"
    # The chat's own report that the resident lives elsewhere (bot/storage/elsewhere.py).
    " (SELECT e.place_kind || ':' || e.place_code FROM living_elsewhere AS e"
    "  WHERE e.chat_id = l.chat_id AND e.nik_ref = r.nik_ref)"
    # SQLite: CROSS JOIN, so that the links drive the loop (PostgreSQL's planner picks it).
    " FROM links AS l {join} residents AS r ON {on}"
    " WHERE l.kind = '{kind}' AND l.reminders_on = 1 AND {where}"
)
_OPENED = ", ".join(opened(column) for column in _SEALED)
_BLOBS = ", ".join(f"r.{column}" for column in _SEALED)
_REACH = (("nik", "r.nik_ref = l.subject_ref"), ("household", "r.kk_ref = l.subject_ref"))
_UNRECORDED_ACTIVE = "r.status_nik = 'AKTIF' AND r.tanggal_rekam IS NULL"


@dataclass(frozen=True)
class LinkedResident:
    """A resident one chat receives reminders about."""

    chat_id: int
    nik: str
    nama: str
    tanggal_lahir: date
    status_kawin: str
    deactivated_on: date | None
    locale: str | None = None  # the chat's language; None if it has no chat row
    nik_ref: bytes = b""  # the NIK's lookup hash (bot/crypto.py), for outbox keys
    elsewhere: str | None = None  # `regency:<code>` / `abroad:<country>`: the chat's report


async def linked_unrecorded_teens(
    db: Connection, *, born_from: date, born_until: date
) -> list[LinkedResident]:
    """Linked unmarried residents, AKTIF and not recorded, born between the days (inclusive)."""
    where = f"{_UNRECORDED_ACTIVE} AND r.status_kawin = 'BELUM KAWIN' AND " + (
        born_years_between("born_from", "born_until")
        if is_postgresql(db)
        else born_between("born_from", "born_until")
    )
    days = {"born_from": born_from.isoformat(), "born_until": born_until.isoformat()}
    return await _linked(
        db, where, days, lambda person: born_from <= person.tanggal_lahir <= born_until
    )


async def linked_unrecorded_wajib(
    db: Connection, *, unmarried_born_before: date
) -> list[LinkedResident]:
    """Linked residents, AKTIF and not recorded, who are married or ever married, or unmarried
    and born before the day."""
    before = (born_years if is_postgresql(db) else born)("<", "unmarried_born_before")
    where = f"{_UNRECORDED_ACTIVE} AND (r.status_kawin <> 'BELUM KAWIN' OR {before})"
    return await _linked(
        db,
        where,
        {"unmarried_born_before": unmarried_born_before.isoformat()},
        lambda person: (
            person.status_kawin != "BELUM KAWIN" or person.tanggal_lahir < unmarried_born_before
        ),
    )


async def linked_deactivated(
    db: Connection, *, since: date, today: date, every_days: int
) -> list[LinkedResident]:
    """Linked residents NONAKTIF and not recorded, deactivated `every_days`·k days (k ≥ 0)
    before some day between `since` and `today`."""
    days = (
        "(CAST(:today AS date) - CAST(r.deactivated_on AS date))"
        if is_postgresql(db)
        else "CAST(julianday(:today) - julianday(r.deactivated_on) AS INTEGER)"
    )
    where = (
        "r.status_nik = 'NONAKTIF' AND r.tanggal_rekam IS NULL AND r.deactivated_on <= :today"
        f" AND {days} % :every <= :late"
    )
    params = {"today": today.isoformat(), "every": every_days, "late": (today - since).days}
    return await _linked(db, where, params)


Keep = Callable[["LinkedResident"], bool]


async def _linked(
    db: Connection, where: str, params: Mapping[str, object], keep: Keep | None = None
) -> list[LinkedResident]:
    """The rows of `where`, by chat and NIK; on PostgreSQL opened in Python, and the SQL's
    birth years narrowed to the exact window by `keep`."""
    postgresql = is_postgresql(db)
    columns, join = (_BLOBS, "JOIN") if postgresql else (_OPENED, "CROSS JOIN")
    query = " UNION ".join(
        _SELECT.format(columns=columns, join=join, kind=k, on=on, where=where) for k, on in _REACH
    )
    if not postgresql:
        async with db.execute(f"{query} ORDER BY 1, 2", params) as cursor:
            return [_linked_resident(row) async for row in cursor]
    vault = vault_of(db)
    people = [
        _linked_resident(_opened(vault, row)) for row in await db.execute_fetchall(query, params)
    ]
    kept = [person for person in people if keep is None or keep(person)]
    return sorted(kept, key=lambda person: (person.chat_id, person.nik))


def _opened(vault: Vault, row: Sequence[Any]) -> tuple[Any, ...]:
    """A PostgreSQL row with its sealed columns (`_SEALED`, after the chat id) opened."""
    ref = row[7]
    sealed = (
        open_sealed(vault, column, blob, ref)
        for column, blob in zip(_SEALED, row[1:4], strict=True)
    )
    return (row[0], *sealed, *row[4:7], bytes(ref), row[8])


def _linked_resident(row: Sequence[Any]) -> LinkedResident:
    chat_id, nik, nama, lahir, kawin, deactivated, locale, nik_ref, elsewhere = row
    return LinkedResident(
        chat_id=chat_id,
        nik=nik,
        nama=nama,
        tanggal_lahir=date.fromisoformat(lahir),
        status_kawin=kawin,
        deactivated_on=date.fromisoformat(deactivated) if deactivated else None,
        locale=locale,
        nik_ref=nik_ref,
        elsewhere=elsewhere,
    )
