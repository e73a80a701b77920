"""The nightly backup's outcomes: one row per run, success or failure."""

from __future__ import annotations

from datetime import datetime

from bot.domain import BackupStatus
from bot.engine import Connection
from bot.storage.outbox import ts


async def record_success(db: Connection, *, file: str, size_bytes: int, now: datetime) -> None:
    """Remember a copy that was written and checked."""
    await db.execute(
        "INSERT INTO backup_runs (finished_at, ok, file, size_bytes) VALUES (?, 1, ?, ?)",
        (ts(now), file, size_bytes),
    )


async def record_failure(db: Connection, *, error: str, now: datetime) -> None:
    """Remember a run that wrote no copy; `error` is the exception's class name."""
    await db.execute(
        "INSERT INTO backup_runs (finished_at, ok, error) VALUES (?, 0, ?)", (ts(now), error)
    )


async def last_outcomes(db: Connection) -> BackupStatus:
    """The newest success and the newest failure (with its error class), each None if none."""
    query = (
        "SELECT finished_at, file, size_bytes, error FROM backup_runs WHERE ok = ?"
        " ORDER BY finished_at DESC, id DESC LIMIT 1"
    )
    async with db.execute(query, (1,)) as cursor:
        success = await cursor.fetchone()
    async with db.execute(query, (0,)) as cursor:
        failure = await cursor.fetchone()
    return BackupStatus(
        last_success=datetime.fromisoformat(success[0]) if success else None,
        last_file=success[1] if success else None,
        last_size_bytes=success[2] if success else None,
        last_failure=datetime.fromisoformat(failure[0]) if failure else None,
        last_error=failure[3] if failure else None,
    )
