"""The append-only audit log of staff, official and admin actions."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.nik import mask_numbers_in


async def write_audit(
    db: aiosqlite.Connection, actor_id: int | None, action: str, detail: str, *, now: datetime
) -> None:
    """Append one record; a NIK- or KK-like number in `detail` is masked (the log is kept)."""
    await db.execute(
        "INSERT INTO audit_log (at, actor_id, action, detail) VALUES (?, ?, ?, ?)",
        (now.isoformat(), actor_id, action, mask_numbers_in(detail)),
    )


async def list_audit(
    db: aiosqlite.Connection, *, since: datetime
) -> list[tuple[str, int, str, str]]:
    """Records at or after `since`, oldest first."""
    async with db.execute(
        "SELECT at, actor_id, action, detail FROM audit_log WHERE at >= ? ORDER BY id",
        (since.isoformat(),),
    ) as cursor:
        return [tuple(row) async for row in cursor]
