"""The SQL behind every figure the bot reports (bot/services/figures.py puts them together).

Residents are selected by a range of plain desa codes (`stats.area_range`); bookings and tickets
either by those residents (an area) or by the service point they are at (`point`). The groups
are those of bot/storage/stats.py, so the broadcasts' audiences are the same residents.

PostgreSQL has no unseal() (the key never reaches the server): there the residents of every
birth year but the groups' boundary years are counted in SQL by the clear year, and those of the
boundary years (a few thousand at 1.3 M residents) decided in Python once their date is opened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.db import vault_of
from bot.engine import Connection, is_postgresql
from bot.storage.outbox import PLAN, REF_HEX
from bot.storage.stats import (
    DEACTIVATED,
    OUTREACH,
    OUTREACH_YEARS,
    REACHABLE,
    STANDING,
    TURNING_17,
    TURNING_17_YEARS,
    UNRECORDED_WAJIB,
    WAJIB,
    WAJIB_YEARS,
    Ages,
    Standing,
)

_IN_RANGE = "r.kode_desa >= :low AND r.kode_desa < :high"
_REACTIVATED = "(r.status_nik = 'AKTIF' AND r.deactivated_on IS NOT NULL)"
_RECORDED_IN = "(r.tanggal_rekam BETWEEN :first AND :last)"
# A done reminder's sealed plan is `<NIK lookup hash in hex>:<kind>:<chat>:<due day>`.
_REFS_AT_ONCE = 500  # residents looked up by hash per query


@dataclass(frozen=True)
class ResidentCounts:
    """Residents of a range of desa per group; `*_reach`: how many of them the bot can reach."""

    residents: int
    wajib_ktp: int
    unrecorded_wajib: int
    unrecorded_wajib_reach: int
    turning_17_recorded: int
    turning_17_recorded_reach: int
    turning_17_unrecorded: int
    turning_17_unrecorded_reach: int
    deactivated: int
    deactivated_reach: int
    reactivated: int
    outreach: int  # in a group (unrecorded, turning 17 unrecorded, deactivated), not reachable
    recorded: int  # e-KTP recordings dated in the period


async def resident_counts(
    db: Connection, low: str, high: str, *, ages: Ages, first: date, last: date
) -> ResidentCounts:
    """Counts per group of the residents whose plain desa code is in [low, high)."""
    params = {
        **ages.dates(),
        "low": low,
        "high": high,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }
    if is_postgresql(db):
        return await _resident_counts_postgresql(db, params, ages)
    query = (
        "SELECT count(*), sum(wajib), sum(uw), sum(uw AND reach),"
        " sum(teen AND rec), sum(teen AND rec AND reach),"
        " sum(teen AND NOT rec), sum(teen AND NOT rec AND reach),"
        " sum(off), sum(off AND reach), sum(back), sum(outreach AND NOT reach), sum(rec_in)"
        f" FROM (SELECT {WAJIB} AS wajib, {UNRECORDED_WAJIB} AS uw, {TURNING_17} AS teen,"
        f" r.tanggal_rekam IS NOT NULL AS rec, {DEACTIVATED} AS off, {_REACTIVATED} AS back,"
        f" {OUTREACH} AS outreach, {_RECORDED_IN} AS rec_in,"
        f" CASE WHEN {OUTREACH} OR {TURNING_17} THEN {REACHABLE} ELSE 0 END AS reach"
        f" FROM residents r WHERE {_IN_RANGE})"
    )
    async with db.execute(query, params) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return ResidentCounts(*(int(value or 0) for value in row))


# The groups of a resident, by name (the columns of the subquery below); each count of
# ResidentCounts, in its order, as a condition on them.
_COUNTED = (
    "TRUE", "wajib", "uw", "uw AND reach", "teen AND rec", "teen AND rec AND reach",
    "teen AND NOT rec", "teen AND NOT rec AND reach", "off", "off AND reach", "back",
    "outreach AND NOT reach", "rec_in",
)  # fmt: skip
_BOUNDARY_YEARS = "r.tahun_lahir IN (:adult_year, :teen_from_year, :teen_to_year)"
# PostgreSQL, the residents born outside the boundary years: their year decides every group.
_COUNTS_BY_YEAR = (
    f"SELECT {', '.join(f'count(*) FILTER (WHERE {c})' for c in _COUNTED)}"
    f" FROM (SELECT {WAJIB_YEARS} AS wajib,"
    f" (r.tanggal_rekam IS NULL AND r.status_nik = 'AKTIF' AND {WAJIB_YEARS}) AS uw,"
    f" {TURNING_17_YEARS} AS teen, r.tanggal_rekam IS NOT NULL AS rec, {DEACTIVATED} AS off,"
    f" {_REACTIVATED} AS back, {OUTREACH_YEARS} AS outreach, {_RECORDED_IN} AS rec_in,"
    f" ({OUTREACH_YEARS} OR {TURNING_17_YEARS}) AND {REACHABLE} AS reach"
    f" FROM residents r WHERE {_IN_RANGE} AND NOT {_BOUNDARY_YEARS}) AS groups"
)
# PostgreSQL, the residents of the boundary years: decided in Python (`_groups`).
_BOUNDARY_ROWS = (
    f"SELECT {STANDING}, {_REACTIVATED}, {_RECORDED_IN}, {REACHABLE}"
    f" FROM residents r WHERE {_IN_RANGE} AND {_BOUNDARY_YEARS}"
)


async def _resident_counts_postgresql(
    db: Connection, params: dict[str, Any], ages: Ages
) -> ResidentCounts:
    years = {f"{name}_year": int(params[name][:4]) for name in ("adult", "teen_from", "teen_to")}
    rows = await db.execute_fetchall(_COUNTS_BY_YEAR, params | years)
    counts = [int(value) for value in next(iter(rows))]
    for *standing, back, rec_in, reachable in await db.execute_fetchall(
        _BOUNDARY_ROWS, params | years
    ):
        groups = _groups(ages, Standing.of(db, standing), back, bool(rec_in), reachable)
        counts = [n + flag for n, flag in zip(counts, groups, strict=True)]
    return ResidentCounts(*counts)


def _groups(
    ages: Ages, person: Standing, back: bool, rec_in: bool, reachable: bool
) -> tuple[bool, ...]:
    """`_COUNTED` for one resident, in Python (the SQL groups of stats.py, birth date opened)."""
    wajib = person.born <= ages.adult or person.status_kawin != "BELUM KAWIN"
    rec = person.tanggal_rekam is not None
    uw = not rec and person.status_nik == "AKTIF" and wajib
    teen = ages.turning_17(person.born)
    off = person.status_nik == "NONAKTIF"
    outreach = off or uw or (teen and not rec)
    reach = (outreach or teen) and reachable
    return (
        True, wajib, uw, uw and reach, teen and rec, teen and rec and reach,
        teen and not rec, teen and not rec and reach, off, off and reach, back,
        outreach and not reach, rec_in,
    )  # fmt: skip


async def recorded_at_drives(
    db: Connection, low: str, high: str, *, first: date, last: date
) -> int:
    """Residents in [low, high) whose e-KTP recording dated in the period was made at a mobile
    recording drive: a booking at the drive's point on that very day ended 'recorded'. Driven
    by the drives' bookings (few), the residents found by their hash."""
    query = (
        "SELECT count(DISTINCT r.nik_ref) FROM drives d"
        " JOIN bookings b ON b.service_point = d.point_code"
        " JOIN residents r ON r.nik_ref = b.nik_ref"
        " WHERE b.state = 'recorded' AND b.day BETWEEN :first AND :last"
        f" AND r.tanggal_rekam = b.day AND {_IN_RANGE}"
    )
    params = {"low": low, "high": high, "first": first.isoformat(), "last": last.isoformat()}
    return await _count(db, query, params)


async def linked_residents(db: Connection, low: str, high: str) -> int:
    """Residents in [low, high) the bot can reach: a link (theirs or their household's) with
    reminders on, to a chat that has not blocked the bot. Driven by the links (a few per chat)."""
    reach = "l.reminders_on = 1 AND l.chat_id NOT IN (SELECT chat_id FROM blocked_chats)"
    query = (
        "SELECT count(*) FROM (SELECT r.nik_ref FROM links l JOIN residents r"
        f" ON l.kind = 'nik' AND r.nik_ref = l.subject_ref WHERE {reach} AND {_IN_RANGE}"
        " UNION SELECT r.nik_ref FROM links l JOIN residents r"
        f" ON l.kind = 'household' AND r.kk_ref = l.subject_ref WHERE {reach} AND {_IN_RANGE})"
        " AS reached"
    )
    return await _count(db, query, {"low": low, "high": high})


async def reminded_per_desa(
    db: Connection, low: str, high: str, *, first: date, last: date
) -> dict[str, int]:
    """Residents in [low, high) sent at least one reminder due in the period, per plain desa
    code (a resident lives in one desa, so a range's count is the sum of its desa's).

    Every sent reminder's plan is opened once (~5 µs each), here rather than in a join on the
    hex of the residents' hashes, which SQLite cannot look up by index; the residents are then
    found by their hash, a few hundred at a time."""
    query = (
        "SELECT o.plan, o.idempotency_key FROM outbox o"
        " WHERE o.kind = 'reminder' AND o.state = 'sent' AND o.plan IS NOT NULL"
    )
    period = (first.isoformat(), last.isoformat())
    refs: set[bytes] = set()
    vault = vault_of(db)
    async with db.execute(query) as cursor:
        async for sealed, key in cursor:
            plan = vault.open(sealed, PLAN, key)
            if period[0] <= plan[-10:] <= period[1]:
                refs.add(bytes.fromhex(plan[:REF_HEX]))
    found: Counter[str] = Counter()
    ordered = sorted(refs)
    for start in range(0, len(ordered), _REFS_AT_ONCE):
        chunk = ordered[start : start + _REFS_AT_ONCE]
        marks = ", ".join("?" * len(chunk))
        query = (
            "SELECT r.kode_desa, count(*) FROM residents r"
            f" WHERE r.nik_ref IN ({marks}) AND r.kode_desa >= ? AND r.kode_desa < ?"
            " GROUP BY r.kode_desa"
        )
        async with db.execute(query, (*chunk, low, high)) as cursor:
            async for desa, count in cursor:
                found[desa] += int(count)
    return dict(found)


async def booking_states(
    db: Connection,
    low: str,
    high: str,
    *,
    first: date,
    last: date,
    point: str | None = None,
) -> dict[str, int]:
    """Bookings for days in the period, per state: at `point`, else of the residents in range."""
    where = "b.day BETWEEN :first AND :last AND "
    where += "b.service_point = :point" if point else _resident_in_range("b")
    query = f"SELECT b.state, count(*) FROM bookings b WHERE {where} GROUP BY b.state"
    params = {"low": low, "high": high, "point": point}
    return await _per_state(
        db, query, {**params, "first": first.isoformat(), "last": last.isoformat()}
    )


async def ticket_states(
    db: Connection, low: str, high: str, *, point: str | None = None
) -> dict[str, int]:
    """Damaged/lost card tickets per state: at `point`, else of the residents in range."""
    where = "t.service_point = :point" if point else _resident_in_range("t")
    query = f"SELECT t.state, count(*) FROM tickets t WHERE {where} GROUP BY t.state"
    return await _per_state(db, query, {"low": low, "high": high, "point": point})


def _resident_in_range(alias: str) -> str:
    return f"EXISTS (SELECT 1 FROM residents r WHERE r.nik_ref = {alias}.nik_ref AND {_IN_RANGE})"


async def _count(db: Connection, query: str, params: Mapping[str, object]) -> int:
    async with db.execute(query, params) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _per_state(db: Connection, query: str, params: Mapping[str, object]) -> dict[str, int]:
    async with db.execute(query, params) as cursor:
        return {state: int(count) async for state, count in cursor}
