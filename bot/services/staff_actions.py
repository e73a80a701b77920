"""What the staff and admin services share: who may act, the reason a person types, and the
audited move of a booking from one state to another.

The booking desk's audit records keep their `staffdesk:` names, so the log reads the same
across versions.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from bot.domain import ACTIVE_BOOKING_STATES, Booking, RoleUser
from bot.engine import Connection
from bot.errors import InvalidReason, NotAdmin, NotStaff, StaffNotChangeable, WrongServicePoint
from bot.nik import mask_numbers_in
from bot.services import outbox
from bot.services.audit import audited, record_audit
from bot.storage import bookings

REASON_MAX = 200
_AUDIT = "staffdesk"


def require_role(user: RoleUser | None, role: str) -> RoleUser:
    """The user if they have `role` (staff also need a service point); else NotStaff/NotAdmin."""
    if user is None or user.role != role or (role == "staff" and not user.service_point):
        raise NotStaff() if role == "staff" else NotAdmin()
    return user


def own_point(staff: RoleUser | None, booking: Booking, *, run_by: str | None = None) -> Booking:
    """The booking if `staff` works at its service point, or at `run_by`, the point running the
    drive the booking is at (bot/services/drives.py); else WrongServicePoint."""
    if require_role(staff, "staff").service_point not in (booking.service_point, run_by):
        raise WrongServicePoint()
    return booking


def clean_reason(text: str) -> str:
    """The trimmed reason, NIK-like numbers masked, 1-200 characters; else InvalidReason."""
    reason = mask_numbers_in(" ".join(text.split()))
    if not 1 <= len(reason) <= REASON_MAX:
        raise InvalidReason(max_length=REASON_MAX)
    return reason


def desk_action(
    db: Connection, actor: RoleUser | None, action: str, target: str, *, now: datetime
) -> AbstractAsyncContextManager[None]:
    """`audit.audited` for the booking desk: one transaction, a refusal audited on its own."""
    return audited(db, actor, f"{_AUDIT}:{action}", target, now=now)


async def audit_desk(
    db: Connection, actor: RoleUser | None, action: str, detail: str, *, now: datetime
) -> None:
    """Record one booking desk action."""
    await record_audit(db, actor, f"{_AUDIT}:{action}", detail, now=now)


async def move_booking(
    db: Connection,
    booking: Booking,
    from_states: Collection[str],
    to_state: str,
    *,
    actor: RoleUser | None,
    now: datetime,
    reason: str | None = None,
) -> Booking:
    """Conditionally move the booking to `to_state`, audit it, return it re-read; a booking no
    longer in `from_states` (a second tap, a stale button) raises StaffNotChangeable."""
    moved = await bookings.set_state_if(
        db, booking.id, from_states=tuple(from_states), to_state=to_state, now=now, reason=reason
    )
    if not moved:
        raise StaffNotChangeable(kind="state", state=booking.state)
    if to_state not in ACTIVE_BOOKING_STATES:  # rejected, cancelled, no-show, done: no reminders
        await outbox.withdraw(db, f"booking:{booking.id}:", now=now)
    detail = f"booking={booking.id} code={booking.code} point={booking.service_point}"
    detail += f" {booking.state}->{to_state}" + (f" reason={reason}" if reason else "")
    await audit_desk(db, actor, to_state, detail, now=now)
    return await bookings.get_booking(db, booking.id) or booking
