"""The audit log: written by the services that act (nobody can change it), read by admins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from bot.db import transaction
from bot.domain import RoleUser
from bot.engine import Connection
from bot.errors import DomainError
from bot.nik import mask_numbers_in
from bot.storage import audit


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, when (UTC); `actor_id` is None for the system and the CLI. `repeats`:
    how many more times the same account was refused the same action within that hour."""

    at: datetime
    actor_id: int | None
    action: str
    detail: str
    repeats: int = 0


async def audit_since(db: Connection, since: datetime) -> list[AuditRecord]:
    """Every record at or after `since`, oldest first."""
    return [
        AuditRecord(datetime.fromisoformat(at), actor, action, detail, repeats)
        for at, actor, action, detail, repeats in await audit.list_audit_counted(db, since=since)
    ]


async def record_audit(
    db: Connection, actor: RoleUser | None, action: str, detail: str, *, now: datetime
) -> None:
    """Append one record by `actor` (None: the system), every NIK-like number in it masked."""
    actor_id = actor.telegram_id if actor else None
    await audit.write_audit(db, actor_id, action, mask_numbers_in(detail), now=now)


@asynccontextmanager
async def audited(
    db: Connection,
    actor: RoleUser | None,
    action: str,
    target: str | Callable[[], Awaitable[str]],
    *,
    now: datetime,
) -> AsyncIterator[None]:
    """One write transaction for a staff or admin action. A refusal (a DomainError) rolls it
    back and is then recorded on its own, as `<action>:refused` with `target` and the error's
    name; a callable `target` is asked only then (it may read what the action was about)."""
    try:
        async with transaction(db):
            yield
    except DomainError as error:
        async with transaction(db):
            label = target if isinstance(target, str) else await target()
            detail = f"{label} refused={type(error).__name__}"
            await record_audit(db, actor, f"{action}:refused", detail, now=now)
        raise
