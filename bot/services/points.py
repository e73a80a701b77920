"""Changing a service point's settings: places per slot, opening hours, printing, in service."""

from __future__ import annotations

from datetime import datetime

from bot.db import transaction
from bot.engine import Connection
from bot.errors import DomainError
from bot.services.opening_hours import parse_hours
from bot.storage import audit, service_points

MAX_CAPACITY = 200


class InvalidPointSetting(DomainError):
    """A setting the office cannot mean; the message says which and why."""


async def update_point(
    db: Connection,
    code: str,
    *,
    capacity: int | None = None,
    hours: str | None = None,
    prints_cards: bool | None = None,
    active: bool | None = None,
    now: datetime,
) -> service_points.ServicePoint:
    """Validate and apply the given settings in one transaction; audited."""
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidPointSetting(f"--capacity must be 1..{MAX_CAPACITY}, got {capacity}")
    if hours is not None:
        try:
            parse_hours(hours)
        except ValueError as error:
            raise InvalidPointSetting(f"--hours: {error}") from None
    async with transaction(db):
        if await service_points.get_service_point(db, code) is None:
            raise InvalidPointSetting(f"unknown service point {code!r}")
        await service_points.update_service_point(
            db, code, capacity=capacity, hours=hours, prints_cards=prints_cards, active=active
        )
        detail = (
            f"point={code} capacity={capacity} hours={hours} prints={prints_cards} active={active}"
        )
        await audit.write_audit(db, None, "set-point", detail, now=now)
    point = await service_points.get_service_point(db, code)
    assert point is not None
    return point
