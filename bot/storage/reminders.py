"""The residents a chat asked reminders about, selected for the reminder rules.

Every query starts from the links with reminders on (a few per chat) and reaches residents by
NIK (primary key) or by KK number (the partial index residents_unrecorded, or residents_kk),
so it reads the linked residents only, never the whole population. Each narrows them further to
those a rule can concern (status, not recorded, a birth-date window); the exact due days are
computed by bot.services.reminders.
A chat that reaches a resident both by NIK and by household gets one row (UNION). Each row
carries the chat's language, so a planner renders thousands of reminders without a query each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import aiosqlite

from bot.storage.residents import born, born_between, opened

_SELECT = (
    f"SELECT l.chat_id, {opened('nik_sealed')}, {opened('nama_sealed')},"
    f" {opened('lahir_sealed')},"
    " r.status_kawin, r.deactivated_on,"
    " (SELECT c.locale FROM chats AS c WHERE c.chat_id = l.chat_id), r.nik_ref,"
    # The chat's own report that the resident lives elsewhere (bot/storage/elsewhere.py).
    " (SELECT e.place_kind || ':' || e.place_code FROM living_elsewhere AS e"
    "  WHERE e.chat_id = l.chat_id AND e.nik_ref = r.nik_ref)"
    " FROM links AS l CROSS JOIN residents AS r ON {on}"  # CROSS JOIN: links drive the loop
    " WHERE l.kind = '{kind}' AND l.reminders_on = 1 AND {where}"
)
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
    db: aiosqlite.Connection, *, born_from: date, born_until: date
) -> list[LinkedResident]:
    """Linked unmarried residents, AKTIF and not recorded, born between the days (inclusive)."""
    where = (
        f"{_UNRECORDED_ACTIVE} AND r.status_kawin = 'BELUM KAWIN'"
        f" AND {born_between('born_from', 'born_until')}"
    )
    days = {"born_from": born_from.isoformat(), "born_until": born_until.isoformat()}
    return await _linked(db, where, days)


async def linked_unrecorded_wajib(
    db: aiosqlite.Connection, *, unmarried_born_before: date
) -> list[LinkedResident]:
    """Linked residents, AKTIF and not recorded, who are married or ever married, or unmarried
    and born before the day."""
    where = (
        f"{_UNRECORDED_ACTIVE}"
        f" AND (r.status_kawin <> 'BELUM KAWIN' OR {born('<', 'unmarried_born_before')})"
    )
    return await _linked(db, where, {"unmarried_born_before": unmarried_born_before.isoformat()})


async def linked_deactivated(
    db: aiosqlite.Connection, *, since: date, today: date, every_days: int
) -> list[LinkedResident]:
    """Linked residents NONAKTIF and not recorded, deactivated `every_days`·k days (k ≥ 0)
    before some day between `since` and `today`."""
    where = (
        "r.status_nik = 'NONAKTIF' AND r.tanggal_rekam IS NULL AND r.deactivated_on <= :today"
        " AND CAST(julianday(:today) - julianday(r.deactivated_on) AS INTEGER) % :every <= :late"
    )
    params = {"today": today.isoformat(), "every": every_days, "late": (today - since).days}
    return await _linked(db, where, params)


async def _linked(
    db: aiosqlite.Connection, where: str, params: Mapping[str, object]
) -> list[LinkedResident]:
    query = " UNION ".join(_SELECT.format(kind=k, on=on, where=where) for k, on in _REACH)
    async with db.execute(f"{query} ORDER BY 1, 2", params) as cursor:
        return [_linked_resident(row) async for row in cursor]


def _linked_resident(row: aiosqlite.Row) -> LinkedResident:
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
