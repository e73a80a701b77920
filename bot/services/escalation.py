"""Bookings nobody confirmed: still pending at 16:00 WIB the day before the visit, they are
escalated to the admins (bot/jobs/escalation.py), and an admin may confirm one, by the button
on that message or with `/konfirmasi KODE`.

The admin role is regency-wide (see `roles.ROLE_COMMANDS`), so every admin hears of every
point's unconfirmed bookings and may confirm any of them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.domain import Booking, RoleUser
from bot.engine import Connection
from bot.errors import StaffBookingNotFound
from bot.services.frontdesk import as_shown, normalize_code
from bot.services.roles import accounts_with_role
from bot.services.schedule import to_utc
from bot.services.staff_actions import desk_action, move_booking, require_role
from bot.storage import bookings


async def unconfirmed_for_tomorrow(
    db: Connection, *, since: date, day: date, now: datetime
) -> list[Booking]:
    """Bookings still pending on the day after each of `since`..`day` (the days a run covers),
    whose visit is still ahead of `now`."""
    first, last = since + timedelta(days=1), day + timedelta(days=1)
    active = await bookings.list_active_between(db, None, first, last)
    return [b for b in active if b.state == "pending" and b.start_at > to_utc(now)]


async def admins(db: Connection) -> list[int]:
    """The chats of every admin: whom an unconfirmed booking is escalated to."""
    return await accounts_with_role(db, "admin")


def escalation_key(booking: Booking, admin_id: int) -> str:
    """`booking:<id>:escalated:<start>:<admin>`: one message per admin for each visit time; a
    cancelled or moved booking withdraws it while queued (the `booking:<id>:` prefix)."""
    return f"booking:{booking.id}:escalated:{booking.start_at.isoformat()}:{admin_id}"


async def confirm(
    db: Connection,
    booking_id: int,
    *,
    admin: RoleUser | None,
    now: datetime,
    version: int | None = None,
) -> Booking:
    """An admin confirms a pending booking at any point (the escalation's button): from a
    message showing `version`, only if the booking is still that version (OutdatedNotice)."""
    async with desk_action(db, admin, "confirm", f"booking={booking_id}", now=now):
        require_role(admin, "admin")
        booking = await bookings.get_booking(db, booking_id)
        if booking is None:
            raise StaffBookingNotFound(code=None)
        booking = as_shown(booking, version)
        return await move_booking(db, booking, ("pending",), "confirmed", actor=admin, now=now)


async def confirm_code(
    db: Connection, code_text: str, *, admin: RoleUser | None, now: datetime
) -> Booking:
    """`/konfirmasi KODE`: an admin confirms the pending booking with this code."""
    async with desk_action(db, admin, "confirm", f"code={_code_label(code_text)}", now=now):
        require_role(admin, "admin")
        code = normalize_code(code_text)
        booking = await bookings.get_booking_by_code(db, code)
        if booking is None:
            raise StaffBookingNotFound(code=code)
        return await move_booking(db, booking, ("pending",), "confirmed", actor=admin, now=now)


def _code_label(text: str) -> str:
    """The normalized code for the audit, or `invalid` (typed text is never logged)."""
    try:
        return normalize_code(text)
    except StaffBookingNotFound:
        return "invalid"
