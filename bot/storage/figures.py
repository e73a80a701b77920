"""The SQL behind every figure the bot reports (bot/services/figures.py puts them together).

Residents are selected by a range of plain desa codes (`stats.area_range`); bookings and tickets
either by those residents (an area) or by the service point they are at (`point`). The groups
are those of bot/storage/stats.py, so the broadcasts' audiences are the same residents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import aiosqlite

from bot.storage.outbox import REF_HEX
from bot.storage.stats import (
    DEACTIVATED,
    OUTREACH,
    REACHABLE,
    TURNING_17,
    UNRECORDED_WAJIB,
    WAJIB,
    Ages,
)

_IN_RANGE = "r.kode_desa >= :low AND r.kode_desa < :high"
_REACTIVATED = "(r.status_nik = 'AKTIF' AND r.deactivated_on IS NOT NULL)"
_RECORDED_IN = "(r.tanggal_rekam BETWEEN :first AND :last)"
# A done reminder's sealed plan is `<NIK lookup hash in hex>:<kind>:<chat>:<due day>`.
_PLAN = "unseal(o.plan, 'outbox.plan', o.idempotency_key)"
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
    db: aiosqlite.Connection, low: str, high: str, *, ages: Ages, first: date, last: date
) -> ResidentCounts:
    """Counts per group of the residents whose plain desa code is in [low, high)."""
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
    params = {
        **ages.dates(),
        "low": low,
        "high": high,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }
    async with db.execute(query, params) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return ResidentCounts(*(int(value or 0) for value in row))


async def recorded_at_drives(
    db: aiosqlite.Connection, low: str, high: str, *, first: date, last: date
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


async def linked_residents(db: aiosqlite.Connection, low: str, high: str) -> int:
    """Residents in [low, high) the bot can reach: a link (theirs or their household's) with
    reminders on, to a chat that has not blocked the bot. Driven by the links (a few per chat)."""
    reach = "l.reminders_on = 1 AND l.chat_id NOT IN (SELECT chat_id FROM blocked_chats)"
    query = (
        "SELECT count(*) FROM (SELECT r.nik_ref FROM links l JOIN residents r"
        f" ON l.kind = 'nik' AND r.nik_ref = l.subject_ref WHERE {reach} AND {_IN_RANGE}"
        " UNION SELECT r.nik_ref FROM links l JOIN residents r"
        f" ON l.kind = 'household' AND r.kk_ref = l.subject_ref WHERE {reach} AND {_IN_RANGE})"
    )
    return await _count(db, query, {"low": low, "high": high})


async def reminded_per_desa(
    db: aiosqlite.Connection, low: str, high: str, *, first: date, last: date
) -> dict[str, int]:
    """Residents in [low, high) sent at least one reminder due in the period, per plain desa
    code (a resident lives in one desa, so a range's count is the sum of its desa's).

    Every sent reminder's plan is opened once (~5 µs each), here rather than in a join on the
    hex of the residents' hashes, which SQLite cannot look up by index; the residents are then
    found by their hash, a few hundred at a time."""
    query = (
        f"SELECT {_PLAN} FROM outbox o"
        " WHERE o.kind = 'reminder' AND o.state = 'sent' AND o.plan IS NOT NULL"
    )
    period = (first.isoformat(), last.isoformat())
    refs: set[bytes] = set()
    async with db.execute(query) as cursor:
        async for (plan,) in cursor:
            if plan and period[0] <= plan[-10:] <= period[1]:
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
    db: aiosqlite.Connection,
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
    db: aiosqlite.Connection, low: str, high: str, *, point: str | None = None
) -> dict[str, int]:
    """Damaged/lost card tickets per state: at `point`, else of the residents in range."""
    where = "t.service_point = :point" if point else _resident_in_range("t")
    query = f"SELECT t.state, count(*) FROM tickets t WHERE {where} GROUP BY t.state"
    return await _per_state(db, query, {"low": low, "high": high, "point": point})


def _resident_in_range(alias: str) -> str:
    return f"EXISTS (SELECT 1 FROM residents r WHERE r.nik_ref = {alias}.nik_ref AND {_IN_RANGE})"


async def _count(db: aiosqlite.Connection, query: str, params: Mapping[str, object]) -> int:
    async with db.execute(query, params) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _per_state(
    db: aiosqlite.Connection, query: str, params: Mapping[str, object]
) -> dict[str, int]:
    async with db.execute(query, params) as cursor:
        return {state: int(count) async for state, count in cursor}
