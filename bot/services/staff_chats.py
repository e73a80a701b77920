"""Where a point's news for its staff goes (new bookings, tickets, the digest): the point's
staff group chat if an admin set one, else each staff member's own chat."""

from __future__ import annotations

from datetime import datetime

from bot.domain import RoleUser
from bot.engine import Connection
from bot.errors import UnknownServicePoint
from bot.services.staff_actions import audit_desk, desk_action, require_role
from bot.storage import point_settings, users


async def set_staff_chat(
    db: Connection,
    *,
    admin: RoleUser | None,
    point_code: str,
    chat_id: int | None,
    now: datetime,
) -> None:
    """Set (None: clear) the staff group chat that receives a point's new bookings."""
    target = f"point={point_code} chat={chat_id}"
    async with desk_action(db, admin, "staff_chat", target, now=now):
        require_role(admin, "admin")
        if not await point_settings.set_staff_chat(db, point_code, chat_id):
            raise UnknownServicePoint(code=point_code)
        await audit_desk(db, admin, "staff_chat", target, now=now)


async def staff_recipients(db: Connection, point_code: str) -> list[int]:
    """The point's staff group chat if configured, else every staff member of the point."""
    group = await point_settings.get_staff_chat(db, point_code)
    if group is not None:
        return [group]
    return [
        u.telegram_id
        for u in await users.list_users(db)
        if u.role == "staff" and u.service_point == point_code
    ]
