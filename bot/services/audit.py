"""Reading the audit log (it is written by the services that act; nobody can change it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage import audit


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, when (UTC); `actor_id` is None for the system and the CLI."""

    at: datetime
    actor_id: int | None
    action: str
    detail: str


async def audit_since(db: aiosqlite.Connection, since: datetime) -> list[AuditRecord]:
    """Every record at or after `since`, oldest first."""
    return [
        AuditRecord(datetime.fromisoformat(at), actor, action, detail)
        for at, actor, action, detail in await audit.list_audit(db, since=since)
    ]
