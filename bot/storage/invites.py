"""Invitations to a role, kept by the hash of their token."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.storage.outbox import ts
from bot.storage.users import RoleUser


async def insert_invite(
    db: aiosqlite.Connection, token_hash: str, user: RoleUser, *, now: datetime, expires: datetime
) -> None:
    """Store a new invitation for the role (user.telegram_id is unused until it is claimed)."""
    await db.execute(
        "INSERT INTO invites (token_hash, role, service_point, area_code, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (token_hash, user.role, user.service_point, user.area_code, ts(now), ts(expires)),
    )


async def claim_invite(
    db: aiosqlite.Connection, token_hash: str, telegram_id: int, *, now: datetime
) -> RoleUser | None:
    """Mark the invitation claimed if it is unclaimed and unexpired; its role, else None."""
    async with db.execute(
        "UPDATE invites SET claimed_by = ?, claimed_at = ?"
        " WHERE token_hash = ? AND claimed_by IS NULL AND expires_at > ?"
        " RETURNING role, service_point, area_code",
        (telegram_id, ts(now), token_hash, ts(now)),
    ) as cursor:
        row = await cursor.fetchone()
    return RoleUser(telegram_id, row[0], row[1], row[2]) if row else None
