"""The outcome of a recording visit written back to the population copy."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.db import vault_of
from bot.engine import Connection


async def mark_recorded(db: Connection, nik: str, day: date, *, now: datetime) -> bool:
    """Set the resident's recording date to `day` and (re-)activate the NIK; False if unknown."""
    cursor = await db.execute(
        "UPDATE residents SET tanggal_rekam = ?, status_nik = 'AKTIF', updated_at = ?"
        " WHERE nik_ref = ?",
        (day.isoformat(), now.astimezone(UTC).isoformat(), vault_of(db).ref(nik)),
    )
    return cursor.rowcount == 1
