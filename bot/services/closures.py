"""An admin closes one service point (or all) for some days: its bookings there are cancelled.

The citizens of the cancelled bookings are told by the caller; a closed day offers no slots
(see `schedule.is_open`).
"""

from __future__ import annotations

from datetime import date, datetime

from bot.domain import ACTIVE_BOOKING_STATES, Booking, RoleUser
from bot.engine import Connection
from bot.errors import InvalidClosure, UnknownServicePoint
from bot.services.schedule import wib_day
from bot.services.staff_actions import (
    audit_desk,
    clean_reason,
    desk_action,
    move_booking,
    require_role,
)
from bot.storage import bookings, closures
from bot.storage.service_points import get_service_point

CLOSURE_MAX_DAYS = 366


async def close_point(
    db: Connection,
    *,
    admin: RoleUser | None,
    point_code: str | None,
    first_day: date,
    last_day: date,
    reason: str,
    now: datetime,
) -> list[Booking]:
    """Close one point (None: all) for the days; cancel and return the bookings there."""
    target = f"point={point_code or '*'} days={first_day.isoformat()}..{last_day.isoformat()}"
    async with desk_action(db, admin, "close_point", target, now=now):
        user = require_role(admin, "admin")
        text = clean_reason(reason)
        await _require_point(db, point_code)
        _check_days(first_day, last_day, today=wib_day(now))
        await closures.insert_closure(
            db,
            service_point=point_code,
            first_day=first_day,
            last_day=last_day,
            reason=text,
            created_by=user.telegram_id,
            now=now,
        )
        await audit_desk(db, admin, "close_point", target, now=now)
        return await _cancel_range(db, point_code, first_day, last_day, text, actor=admin, now=now)


async def _require_point(db: Connection, point_code: str | None) -> None:
    if point_code is not None and await get_service_point(db, point_code) is None:
        raise UnknownServicePoint(code=point_code)


def _check_days(first_day: date, last_day: date, *, today: date) -> None:
    if first_day > last_day:
        raise InvalidClosure(kind="order")
    if first_day < today:
        raise InvalidClosure(kind="past")
    if (last_day - first_day).days >= CLOSURE_MAX_DAYS:
        raise InvalidClosure(kind="too_long", max_days=CLOSURE_MAX_DAYS)


async def _cancel_range(
    db: Connection,
    point_code: str | None,
    first_day: date,
    last_day: date,
    reason: str,
    *,
    actor: RoleUser | None,
    now: datetime,
) -> list[Booking]:
    """Cancel every active booking at the point (None: every point) between the days."""
    found = await bookings.list_active_between(db, point_code, first_day, last_day)
    return [
        await move_booking(
            db, b, ACTIVE_BOOKING_STATES, "cancelled", actor=actor, now=now, reason=reason
        )
        for b in found
    ]
