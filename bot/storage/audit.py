"""The append-only audit log of staff, official and admin actions."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.engine import Connection
from bot.nik import mask_numbers_in


async def write_audit(
    db: Connection, actor_id: int | None, action: str, detail: str, *, now: datetime
) -> int:
    """Append one record; return its id. A NIK- or KK-like number in `detail` is masked (the log
    is kept)."""
    rows = await db.execute_fetchall(
        "INSERT INTO audit_log (at, actor_id, action, detail) VALUES (?, ?, ?, ?) RETURNING id",
        (now.isoformat(), actor_id, action, mask_numbers_in(detail)),
    )
    return int(next(iter(rows))[0])


async def write_repeatable(
    db: Connection, actor_id: int, action: str, detail: str, *, now: datetime
) -> bool:
    """Append the record unless the account had this action audited in the same UTC hour; then
    count one more repeat of that record instead. True when a record was appended (call inside
    a transaction: the count and the record change together)."""
    hour = now.astimezone(UTC).strftime("%Y-%m-%dT%H")
    cursor = await db.execute(
        "UPDATE audit_repeats SET repeats = audit_repeats.repeats + 1"
        " WHERE actor_id = ? AND action = ? AND hour = ?",
        (actor_id, action, hour),
    )
    if cursor.rowcount:
        return False
    audit_id = await write_audit(db, actor_id, action, detail, now=now)
    await db.execute(
        "INSERT INTO audit_repeats (audit_id, actor_id, action, hour) VALUES (?, ?, ?, ?)",
        (audit_id, actor_id, action, hour),
    )
    return True


async def list_audit(db: Connection, *, since: datetime) -> list[tuple[str, int, str, str]]:
    """Records at or after `since`, oldest first."""
    async with db.execute(
        "SELECT at, actor_id, action, detail FROM audit_log WHERE at >= ? ORDER BY id",
        (since.isoformat(),),
    ) as cursor:
        return [tuple(row) async for row in cursor]


async def list_audit_counted(
    db: Connection, *, since: datetime
) -> list[tuple[str, int | None, str, str, int]]:
    """Records at or after `since`, oldest first, each with its repeats within its hour."""
    async with db.execute(
        "SELECT a.at, a.actor_id, a.action, a.detail, coalesce(r.repeats, 0) FROM audit_log a"
        " LEFT JOIN audit_repeats r ON r.audit_id = a.id WHERE a.at >= ? ORDER BY a.id",
        (since.isoformat(),),
    ) as cursor:
        return [
            (at, actor, action, detail, repeats)
            async for at, actor, action, detail, repeats in cursor
        ]
