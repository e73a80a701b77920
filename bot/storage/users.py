"""Registered staff, village officials and admins."""

from __future__ import annotations

from datetime import datetime

from bot.domain import RoleUser
from bot.engine import Connection


async def upsert_user(db: Connection, user: RoleUser, *, now: datetime) -> None:
    """Register the account, replacing any earlier role."""
    await db.execute(
        "INSERT INTO users (telegram_id, role, service_point, area_code, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (telegram_id) DO UPDATE SET role = excluded.role,"
        " service_point = excluded.service_point, area_code = excluded.area_code",
        (user.telegram_id, user.role, user.service_point, user.area_code, now.isoformat()),
    )


async def delete_user(db: Connection, telegram_id: int) -> RoleUser | None:
    """Remove the account's role; the role it had, or None when it had none."""
    async with db.execute(
        "DELETE FROM users WHERE telegram_id = ?"
        " RETURNING telegram_id, role, service_point, area_code",
        (telegram_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return RoleUser(*row) if row else None


async def get_user(db: Connection, telegram_id: int) -> RoleUser | None:
    """The account's role, or None for a citizen."""
    async with db.execute(
        "SELECT telegram_id, role, service_point, area_code FROM users WHERE telegram_id = ?",
        (telegram_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return RoleUser(*row) if row else None


async def list_users(db: Connection) -> list[RoleUser]:
    """Every registered account."""
    async with db.execute(
        "SELECT telegram_id, role, service_point, area_code FROM users ORDER BY telegram_id"
    ) as cursor:
        return [RoleUser(*row) async for row in cursor]


async def list_users_with_chats(db: Connection) -> list[RoleUser]:
    """Registered accounts that have written to the bot (so their chat exists)."""
    async with db.execute(
        "SELECT u.telegram_id, u.role, u.service_point, u.area_code FROM users u"
        " JOIN chats c ON c.chat_id = u.telegram_id ORDER BY u.telegram_id"
    ) as cursor:
        return [RoleUser(*row) async for row in cursor]
