"""An admin switches auto-confirm at a point: its new bookings start confirmed, not pending
(see `booking_rules.initial_state`)."""

from __future__ import annotations

from datetime import datetime

from bot.domain import RoleUser
from bot.engine import Connection
from bot.errors import UnknownServicePoint
from bot.services.staff_actions import audit_desk, desk_action, require_role
from bot.storage import point_settings


async def set_auto_confirm(
    db: Connection, *, admin: RoleUser | None, point_code: str, on: bool, now: datetime
) -> None:
    """Switch auto-confirm of new bookings at a point on or off."""
    target = f"point={point_code} on={on}"
    async with desk_action(db, admin, "auto_confirm", target, now=now):
        require_role(admin, "admin")
        if not await point_settings.set_auto_confirm(db, point_code, on):
            raise UnknownServicePoint(code=point_code)
        await audit_desk(db, admin, "auto_confirm", target, now=now)
