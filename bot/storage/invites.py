"""Invitations to a role, kept by the hash of their token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.engine import Connection
from bot.storage.outbox import ts
from bot.storage.users import RoleUser


@dataclass(frozen=True)
class InviteState:
    """What became of an invitation: its role, who claimed it, whether it was revoked or had
    expired (at `now`)."""

    role: str
    claimed_by: int | None
    revoked: bool
    expired: bool


async def insert_invite(
    db: Connection, token_hash: str, user: RoleUser, *, now: datetime, expires: datetime
) -> None:
    """Store a new invitation for the role (user.telegram_id is unused until it is claimed)."""
    await db.execute(
        "INSERT INTO invites (token_hash, role, service_point, area_code, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (token_hash, user.role, user.service_point, user.area_code, ts(now), ts(expires)),
    )


async def claim_invite(
    db: Connection, token_hash: str, telegram_id: int, *, now: datetime
) -> RoleUser | None:
    """Mark the invitation claimed if it is unclaimed and unexpired; its role, else None."""
    async with db.execute(
        "UPDATE invites SET claimed_by = ?, claimed_at = ?"
        " WHERE token_hash = ? AND claimed_by IS NULL AND revoked_at IS NULL AND expires_at > ?"
        " RETURNING role, service_point, area_code",
        (telegram_id, ts(now), token_hash, ts(now)),
    ) as cursor:
        row = await cursor.fetchone()
    return RoleUser(telegram_id, row[0], row[1], row[2]) if row else None


async def revoke_invite(db: Connection, token_hash: str, *, now: datetime) -> InviteState | None:
    """Revoke the invitation if nobody has claimed it yet; its state before, or None if unknown."""
    async with db.execute(
        "SELECT role, claimed_by, revoked_at IS NOT NULL, expires_at <= ? FROM invites"
        " WHERE token_hash = ?",
        (ts(now), token_hash),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    await db.execute(
        "UPDATE invites SET revoked_at = ?"
        " WHERE token_hash = ? AND claimed_by IS NULL AND revoked_at IS NULL",
        (ts(now), token_hash),
    )
    return InviteState(row[0], row[1], bool(row[2]), bool(row[3]))


async def revoke_open_invites(db: Connection, *, now: datetime) -> int:
    """Revoke every invitation nobody has claimed (expired ones too: whatever the clock says,
    none of them can give a role afterwards); return how many."""
    cursor = await db.execute(
        "UPDATE invites SET revoked_at = ? WHERE claimed_by IS NULL AND revoked_at IS NULL",
        (ts(now),),
    )
    return cursor.rowcount
