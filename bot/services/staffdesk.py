"""The staff and admin side of the queue: confirm, reject, check in, outcomes, closures.

Every function takes the acting account (`RoleUser`, or None for a citizen) and checks it in
one place (`_require_role`, `_own_point`). State changes are conditional updates inside one
write transaction, so a second tap or a stale button changes nothing and raises NotChangeable.
Every action, refused ones included, is written to the audit log without a full NIK.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from bot.config import TIMEZONE
from bot.db import transaction
from bot.domain import ACTIVE_BOOKING_STATES, Booking
from bot.errors import BookingNotFound, DomainError, NotAuthorized, NotChangeable
from bot.nik import mask_number
from bot.services import outbox
from bot.services.booking_rules import CODE_ALPHABET, CODE_LENGTH
from bot.services.waitlist import Offer, offer_freed_place_in
from bot.storage import audit, bookings, closures, point_settings, recordings, residents, users
from bot.storage.service_points import get_service_point
from bot.storage.users import RoleUser

CODE_PREFIX = "DUKCAPIL:"
REASON_MAX = 200
# A pending booking may be checked in: the person stands at the counter and the staff member
# checking them in is the one who would have confirmed it.
CHECK_IN_FROM = ("pending", "confirmed")
UNATTENDED = ("pending", "confirmed")
OUTCOMES: dict[str, tuple[str, ...]] = {
    "recorded": ("checked_in",),
    "handed_over": ("checked_in",),
    "no_show": UNATTENDED,
}
CLOSURE_MAX_DAYS = 366


def outcome_for(service: str) -> str:
    """What serving a visitor ends in: a recording for `rekam`, a card handed over otherwise."""
    return "recorded" if service == "rekam" else "handed_over"


class NotStaff(NotAuthorized):
    """Only staff of a service point may act on its queue."""

    template = "citizen/error_not_authorized.html"


class NotAdmin(NotAuthorized):
    """Only an admin may manage service points."""

    template = "citizen/error_not_authorized.html"


class WrongServicePoint(NotAuthorized):
    """The booking belongs to another service point; nothing about it is revealed."""

    template = "staff/error_wrong_point.html"


class StaffBookingNotFound(BookingNotFound):
    """No such booking (stale button, or a code no booking has); context `code` (None by id)."""

    template = "staff/error_booking_not_found.html"


class StaffNotChangeable(NotChangeable):
    """The booking's state or day does not allow this; context `kind` (+ `state`, `day`)."""

    template = "staff/error_not_changeable.html"


class InvalidReason(DomainError):
    """A rejection or closure reason must be 1-200 characters; context `max_length`."""

    template = "staff/error_invalid_reason.html"


class UnknownServicePoint(DomainError):
    """No service point has this code; context `code`."""

    template = "admin/error_unknown_point.html"


class InvalidClosure(DomainError):
    """Impossible closure dates; context `kind`: `order`, `past` or `too_long`."""

    template = "admin/error_invalid_closure.html"


@dataclass(frozen=True)
class QueueEntry:
    """One line of the day's queue: the booking and the resident's name."""

    booking: Booking
    name: str


# --- staff: one booking at a time ---


async def confirm(
    db: aiosqlite.Connection, booking_id: int, *, staff: RoleUser | None, now: datetime
) -> Booking:
    """pending → confirmed."""
    async with _action(db, staff, "confirm", f"booking={booking_id}", now=now):
        booking = await _staff_booking(db, booking_id, staff)
        return await _move(db, booking, ("pending",), "confirmed", actor=staff, now=now)


async def reject(
    db: aiosqlite.Connection,
    booking_id: int,
    *,
    staff: RoleUser | None,
    reason: str,
    now: datetime,
) -> tuple[Booking, Offer | None]:
    """pending/confirmed → rejected with the reason; the freed place goes to the waitlist."""
    async with _action(db, staff, "reject", f"booking={booking_id}", now=now):
        booking = await _staff_booking(db, booking_id, staff)
        text = _reason(reason)
        rejected = await _move(
            db, booking, UNATTENDED, "rejected", actor=staff, now=now, reason=text
        )
        offer = await offer_freed_place_in(db, rejected.service_point, rejected.start_at, now=now)
        return rejected, offer


async def check_in(
    db: aiosqlite.Connection, code_text: str, *, staff: RoleUser | None, now: datetime
) -> Booking:
    """The booking with this code, today at the staff's own point → checked_in."""
    async with _action(db, staff, "check_in", f"code={_code_label(code_text)}", now=now):
        booking = await _staff_booking_by_code(db, code_text, staff)
        _require_state(booking, CHECK_IN_FROM)
        _require_day(booking, today=_today(now), exact=True)
        return await _move(db, booking, CHECK_IN_FROM, "checked_in", actor=staff, now=now)


async def record_outcome(
    db: aiosqlite.Connection,
    booking_id: int,
    outcome: str,
    *,
    staff: RoleUser | None,
    now: datetime,
) -> Booking:
    """recorded / handed_over after check-in, or no_show on or after the visit's day."""
    label = outcome if outcome in OUTCOMES else "unknown"
    async with _action(db, staff, "outcome", f"booking={booking_id} outcome={label}", now=now):
        booking = await _staff_booking(db, booking_id, staff)
        served = outcome != "no_show"
        if outcome not in OUTCOMES or (served and outcome != outcome_for(booking.service)):
            raise StaffNotChangeable(kind="outcome", state=booking.state)
        _require_day(booking, today=_today(now), exact=False)
        done = await _move(db, booking, OUTCOMES[outcome], outcome, actor=staff, now=now)
        if outcome == "recorded" and done.service == "rekam":
            await recordings.mark_recorded(db, done.nik, done.day, now=now)
        return done


async def no_show_by_code(
    db: aiosqlite.Connection, code_text: str, *, staff: RoleUser | None, now: datetime
) -> Booking:
    """/tidak_hadir KODE: the booking with this code at the staff's own point → no_show."""
    target = f"code={_code_label(code_text)} outcome=no_show"
    async with _action(db, staff, "outcome", target, now=now):
        booking = await _staff_booking_by_code(db, code_text, staff)
        _require_day(booking, today=_today(now), exact=False)
        return await _move(db, booking, OUTCOMES["no_show"], "no_show", actor=staff, now=now)


async def own_booking(
    db: aiosqlite.Connection, booking_id: int, *, staff: RoleUser | None, action: str, now: datetime
) -> Booking:
    """The booking if `staff` works at its point, checked before asking for more input (e.g.
    a rejection's reason); a refusal is audited under `action`."""
    async with _action(db, staff, action, f"booking={booking_id}", now=now):
        return await _staff_booking(db, booking_id, staff)


# --- staff: the day's queue ---


async def confirm_all_for_day(
    db: aiosqlite.Connection, *, staff: RoleUser | None, day: date, now: datetime
) -> list[Booking]:
    """Confirm every pending booking of the staff's own point on `day`."""
    async with _action(db, staff, "confirm_all", f"day={day.isoformat()}", now=now):
        point = _require_role(staff, "staff").service_point or ""
        pending = [b for b in await bookings.list_point_day(db, point, day) if b.state == "pending"]
        return [
            await _move(db, b, ("pending",), "confirmed", actor=staff, now=now) for b in pending
        ]


async def today_queue(
    db: aiosqlite.Connection, *, staff: RoleUser | None, day: date
) -> list[QueueEntry]:
    """The staff's own point's bookings on `day` in queue order, every state, with names."""
    point = _require_role(staff, "staff").service_point or ""
    return [await _entry(db, b) for b in await bookings.list_point_day(db, point, day)]


async def sweep_no_shows(db: aiosqlite.Connection, *, day: date, now: datetime) -> list[Booking]:
    """At day's end: every pending/confirmed booking on or before `day` becomes no_show."""
    async with transaction(db):
        unattended = await bookings.list_unattended_until(db, day)
        swept = [await _move(db, b, UNATTENDED, "no_show", actor=None, now=now) for b in unattended]
    return swept


# --- admin: service points ---


async def close_point(
    db: aiosqlite.Connection,
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
    async with _action(db, admin, "close_point", target, now=now):
        user = _require_role(admin, "admin")
        text = _reason(reason)
        await _require_point(db, point_code)
        _check_closure_days(first_day, last_day, today=_today(now))
        await closures.insert_closure(
            db,
            service_point=point_code,
            first_day=first_day,
            last_day=last_day,
            reason=text,
            created_by=user.telegram_id,
            now=now,
        )
        await _audit(db, admin, "close_point", target, now=now)
        return await _cancel_range(db, point_code, first_day, last_day, text, actor=admin, now=now)


async def set_auto_confirm(
    db: aiosqlite.Connection, *, admin: RoleUser | None, point_code: str, on: bool, now: datetime
) -> None:
    """Switch auto-confirm of new bookings at a point on or off."""
    async with _action(db, admin, "auto_confirm", f"point={point_code} on={on}", now=now):
        _require_role(admin, "admin")
        if not await point_settings.set_auto_confirm(db, point_code, on):
            raise UnknownServicePoint(code=point_code)
        await _audit(db, admin, "auto_confirm", f"point={point_code} on={on}", now=now)


async def set_staff_chat(
    db: aiosqlite.Connection,
    *,
    admin: RoleUser | None,
    point_code: str,
    chat_id: int | None,
    now: datetime,
) -> None:
    """Set (None: clear) the staff group chat that receives a point's new bookings."""
    target = f"point={point_code} chat={chat_id}"
    async with _action(db, admin, "staff_chat", target, now=now):
        _require_role(admin, "admin")
        if not await point_settings.set_staff_chat(db, point_code, chat_id):
            raise UnknownServicePoint(code=point_code)
        await _audit(db, admin, "staff_chat", target, now=now)


async def staff_recipients(db: aiosqlite.Connection, point_code: str) -> list[int]:
    """The point's staff group chat if configured, else every staff member of the point."""
    group = await point_settings.get_staff_chat(db, point_code)
    if group is not None:
        return [group]
    return [
        u.telegram_id
        for u in await users.list_users(db)
        if u.role == "staff" and u.service_point == point_code
    ]


def normalize_code(text: str) -> str:
    """`dukcapil: abc-234` → `ABC234`; not a possible code → StaffBookingNotFound."""
    code = text.strip().upper()
    code = code.removeprefix(CODE_PREFIX)
    code = re.sub(r"[\s-]", "", code)
    if len(code) != CODE_LENGTH or not set(code) <= set(CODE_ALPHABET):
        raise StaffBookingNotFound(code=code[: CODE_LENGTH + 4])
    return code


# --- the one place that decides who may act, and the audit ---


def _require_role(user: RoleUser | None, role: str) -> RoleUser:
    """The user if they have `role`; else NotStaff / NotAdmin."""
    if user is None or user.role != role or (role == "staff" and not user.service_point):
        raise NotStaff() if role == "staff" else NotAdmin()
    return user


def _own_point(staff: RoleUser | None, booking: Booking) -> Booking:
    """The booking if `staff` works at its service point; else WrongServicePoint."""
    if _require_role(staff, "staff").service_point != booking.service_point:
        raise WrongServicePoint()
    return booking


@asynccontextmanager
async def _action(
    db: aiosqlite.Connection, actor: RoleUser | None, action: str, target: str, *, now: datetime
) -> AsyncIterator[None]:
    """One write transaction; a refusal rolls it back and is then audited on its own."""
    try:
        async with transaction(db):
            yield
    except DomainError as error:
        async with transaction(db):
            refused = f"{target} refused={type(error).__name__}"
            await _audit(db, actor, f"{action}:refused", refused, now=now)
        raise


async def _audit(
    db: aiosqlite.Connection, actor: RoleUser | None, action: str, detail: str, *, now: datetime
) -> None:
    actor_id = actor.telegram_id if actor else None
    await audit.write_audit(db, actor_id, f"staffdesk:{action}", _masked(detail), now=now)


def _code_label(text: str) -> str:
    """The normalized code for the audit, or `invalid` (typed text is never logged)."""
    try:
        return normalize_code(text)
    except StaffBookingNotFound:
        return "invalid"


def _masked(text: str) -> str:
    """Free text with every 16-digit run (a NIK or KK number) masked."""
    return re.sub(r"\d{16}", lambda m: mask_number(m.group()), text)


# --- helpers ---


async def _staff_booking(
    db: aiosqlite.Connection, booking_id: int, staff: RoleUser | None
) -> Booking:
    _require_role(staff, "staff")
    booking = await bookings.get_booking(db, booking_id)
    if booking is None:
        raise StaffBookingNotFound(code=None)
    return _own_point(staff, booking)


async def _staff_booking_by_code(
    db: aiosqlite.Connection, code_text: str, staff: RoleUser | None
) -> Booking:
    _require_role(staff, "staff")
    code = normalize_code(code_text)
    booking = await bookings.get_booking_by_code(db, code)
    if booking is None:
        raise StaffBookingNotFound(code=code)
    return _own_point(staff, booking)


async def _move(
    db: aiosqlite.Connection,
    booking: Booking,
    from_states: Collection[str],
    to_state: str,
    *,
    actor: RoleUser | None,
    now: datetime,
    reason: str | None = None,
) -> Booking:
    """Conditionally move the booking to `to_state`, audit it, return it re-read."""
    moved = await bookings.set_state_if(
        db, booking.id, from_states=tuple(from_states), to_state=to_state, now=now, reason=reason
    )
    if not moved:
        raise StaffNotChangeable(kind="state", state=booking.state)
    if to_state not in ACTIVE_BOOKING_STATES:  # rejected, cancelled, no-show, done: no reminders
        await outbox.withdraw(db, f"booking:{booking.id}:", now=now)
    detail = f"booking={booking.id} code={booking.code} point={booking.service_point}"
    detail += f" {booking.state}->{to_state}" + (f" reason={reason}" if reason else "")
    await _audit(db, actor, to_state, detail, now=now)
    return await bookings.get_booking(db, booking.id) or booking


def _require_state(booking: Booking, states: Collection[str]) -> None:
    if booking.state not in states:
        raise StaffNotChangeable(kind="state", state=booking.state)


def _require_day(booking: Booking, *, today: date, exact: bool) -> None:
    """Check-in needs the visit's own day; a no-show can be marked from that day on."""
    if booking.day > today or (exact and booking.day != today):
        raise StaffNotChangeable(kind="other_day", state=booking.state, day=booking.day)


def _reason(text: str) -> str:
    """The trimmed reason, 1-200 characters; else InvalidReason."""
    reason = " ".join(text.split())
    if not 1 <= len(reason) <= REASON_MAX:
        raise InvalidReason(max_length=REASON_MAX)
    return reason


async def _require_point(db: aiosqlite.Connection, point_code: str | None) -> None:
    if point_code is not None and await get_service_point(db, point_code) is None:
        raise UnknownServicePoint(code=point_code)


def _check_closure_days(first_day: date, last_day: date, *, today: date) -> None:
    if first_day > last_day:
        raise InvalidClosure(kind="order")
    if first_day < today:
        raise InvalidClosure(kind="past")
    if (last_day - first_day).days >= CLOSURE_MAX_DAYS:
        raise InvalidClosure(kind="too_long", max_days=CLOSURE_MAX_DAYS)


async def _cancel_range(
    db: aiosqlite.Connection,
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
        await _move(db, b, ACTIVE_BOOKING_STATES, "cancelled", actor=actor, now=now, reason=reason)
        for b in found
    ]


async def _entry(db: aiosqlite.Connection, booking: Booking) -> QueueEntry:
    resident = await residents.get_resident(db, booking.nik)
    return QueueEntry(booking, resident.nama if resident else mask_number(booking.nik))


def _today(now: datetime) -> date:
    """The date in WIB at `now`."""
    return now.astimezone(TIMEZONE).date()
