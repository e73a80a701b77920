"""The staff at a service point's counter: confirm, reject, check in, outcomes, the day's queue.

Every function takes the acting account (`RoleUser`, or None for a citizen) and checks it
(`require_role`, `own_point`). State changes are conditional updates inside one write
transaction, so a second tap or a stale button changes nothing and raises NotChangeable.
Every action, refused ones included, is written to the audit log without a full NIK.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from bot.domain import HOLDING_STATES, Booking, RoleUser
from bot.engine import Connection
from bot.errors import OutdatedNotice, StaffBookingNotFound, StaffNotChangeable
from bot.nik import mask_number
from bot.services.booking_rules import CODE_ALPHABET, CODE_LENGTH
from bot.services.schedule import wib_day
from bot.services.staff_actions import (
    clean_reason,
    desk_action,
    move_booking,
    own_point,
    require_role,
)
from bot.services.waitlist import Offer, offer_freed_place_in
from bot.storage import bookings, drives, recordings, residents

CODE_PREFIX = "DUKCAPIL:"
# The states each outcome may follow.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "recorded": ("checked_in",),
    "handed_over": ("checked_in",),
    "no_show": HOLDING_STATES,
}


@dataclass(frozen=True)
class QueueEntry:
    """One line of the day's queue: the booking and the resident's name."""

    booking: Booking
    name: str


def outcome_for(service: str) -> str:
    """What serving a visitor ends in: a recording for `rekam`, a card handed over otherwise."""
    return "recorded" if service == "rekam" else "handed_over"


# --- one booking at a time ---


async def confirm(
    db: Connection,
    booking_id: int,
    *,
    staff: RoleUser | None,
    now: datetime,
    version: int | None = None,
) -> Booking:
    """pending → confirmed; from a notice showing `version` only if the booking is still that
    version (else OutdatedNotice)."""
    async with desk_action(db, staff, "confirm", f"booking={booking_id}", now=now):
        booking = as_shown(await _staff_booking(db, booking_id, staff), version)
        return await move_booking(db, booking, ("pending",), "confirmed", actor=staff, now=now)


async def reject(
    db: Connection,
    booking_id: int,
    *,
    staff: RoleUser | None,
    reason: str,
    now: datetime,
    version: int | None = None,
) -> tuple[Booking, Offer | None]:
    """pending/confirmed → rejected with the reason; the freed place goes to the waitlist. From
    a notice showing `version`: only if the booking is still that version (OutdatedNotice)."""
    async with desk_action(db, staff, "reject", f"booking={booking_id}", now=now):
        booking = as_shown(await _staff_booking(db, booking_id, staff), version)
        text = clean_reason(reason)
        rejected = await move_booking(
            db, booking, HOLDING_STATES, "rejected", actor=staff, now=now, reason=text
        )
        offer = await offer_freed_place_in(db, rejected.service_point, rejected.start_at, now=now)
        return rejected, offer


async def check_in(
    db: Connection, code_text: str, *, staff: RoleUser | None, now: datetime
) -> Booking:
    """The booking with this code, today at the staff's own point → checked_in (from pending
    too: the person stands at the counter, and whoever checks them in would have confirmed)."""
    async with desk_action(db, staff, "check_in", f"code={_code_label(code_text)}", now=now):
        booking = await _staff_booking_by_code(db, code_text, staff)
        _require_state(booking, HOLDING_STATES)
        _require_day(booking, today=wib_day(now), exact=True)
        return await move_booking(db, booking, HOLDING_STATES, "checked_in", actor=staff, now=now)


async def record_outcome(
    db: Connection,
    booking_id: int,
    outcome: str,
    *,
    staff: RoleUser | None,
    now: datetime,
) -> Booking:
    """recorded / handed_over after check-in, or no_show on or after the visit's day."""
    label = outcome if outcome in OUTCOMES else "unknown"
    async with desk_action(db, staff, "outcome", f"booking={booking_id} outcome={label}", now=now):
        booking = await _staff_booking(db, booking_id, staff)
        served = outcome != "no_show"
        if outcome not in OUTCOMES or (served and outcome != outcome_for(booking.service)):
            raise StaffNotChangeable(kind="outcome", state=booking.state)
        _require_day(booking, today=wib_day(now), exact=False)
        done = await move_booking(db, booking, OUTCOMES[outcome], outcome, actor=staff, now=now)
        if outcome == "recorded" and done.service == "rekam":
            await recordings.mark_recorded(db, done.nik, done.day, now=now)
        return done


async def no_show_by_code(
    db: Connection, code_text: str, *, staff: RoleUser | None, now: datetime
) -> Booking:
    """/tidak_hadir KODE: the booking with this code at the staff's own point → no_show."""
    target = f"code={_code_label(code_text)} outcome=no_show"
    async with desk_action(db, staff, "outcome", target, now=now):
        booking = await _staff_booking_by_code(db, code_text, staff)
        _require_day(booking, today=wib_day(now), exact=False)
        return await move_booking(db, booking, OUTCOMES["no_show"], "no_show", actor=staff, now=now)


async def own_booking(
    db: Connection,
    booking_id: int,
    *,
    staff: RoleUser | None,
    action: str,
    now: datetime,
    version: int | None = None,
) -> Booking:
    """The booking if `staff` works at its point (and it is still the `version` a notice shows),
    checked before asking for more input (e.g. a rejection's reason); a refusal is audited
    under `action`."""
    async with desk_action(db, staff, action, f"booking={booking_id}", now=now):
        return as_shown(await _staff_booking(db, booking_id, staff), version)


# --- the day's queue ---


async def confirm_all_for_day(
    db: Connection, *, staff: RoleUser | None, day: date, now: datetime
) -> list[Booking]:
    """Confirm every pending booking of the staff's own point on `day`."""
    async with desk_action(db, staff, "confirm_all", f"day={day.isoformat()}", now=now):
        point = require_role(staff, "staff").service_point or ""
        pending = [b for b in await bookings.list_point_day(db, point, day) if b.state == "pending"]
        return [
            await move_booking(db, b, ("pending",), "confirmed", actor=staff, now=now)
            for b in pending
        ]


async def today_queue(db: Connection, *, staff: RoleUser | None, day: date) -> list[QueueEntry]:
    """The staff's own point's bookings on `day` in queue order, every state, with names."""
    point = require_role(staff, "staff").service_point or ""
    return await queue_entries(db, point, day)


async def queue_entries(db: Connection, point: str, day: date) -> list[QueueEntry]:
    """The point's bookings on `day` in queue order, every state, with the residents' names."""
    return [await _entry(db, b) for b in await bookings.list_point_day(db, point, day)]


def normalize_code(text: str) -> str:
    """`dukcapil: abc-234` → `ABC234`; not a possible code → StaffBookingNotFound."""
    code = text.strip().upper()
    code = code.removeprefix(CODE_PREFIX)
    code = re.sub(r"[\s-]", "", code)
    if len(code) != CODE_LENGTH or not set(code) <= set(CODE_ALPHABET):
        raise StaffBookingNotFound(code=code[: CODE_LENGTH + 4])
    return code


# --- helpers ---


def _code_label(text: str) -> str:
    """The normalized code for the audit, or `invalid` (typed text is never logged)."""
    try:
        return normalize_code(text)
    except StaffBookingNotFound:
        return "invalid"


async def _staff_booking(db: Connection, booking_id: int, staff: RoleUser | None) -> Booking:
    require_role(staff, "staff")
    booking = await bookings.get_booking(db, booking_id)
    if booking is None:
        raise StaffBookingNotFound(code=None)
    return own_point(staff, booking, run_by=await drives.running_point(db, booking.service_point))


async def _staff_booking_by_code(db: Connection, code_text: str, staff: RoleUser | None) -> Booking:
    require_role(staff, "staff")
    code = normalize_code(code_text)
    booking = await bookings.get_booking_by_code(db, code)
    if booking is None:
        raise StaffBookingNotFound(code=code)
    return own_point(staff, booking, run_by=await drives.running_point(db, booking.service_point))


def as_shown(booking: Booking, version: int | None) -> Booking:
    """The booking if it is still the version a notice's button shows (None: not from one)."""
    if version is not None and version != booking.version:
        raise OutdatedNotice(b=booking)
    return booking


def _require_state(booking: Booking, states: Collection[str]) -> None:
    if booking.state not in states:
        raise StaffNotChangeable(kind="state", state=booking.state)


def _require_day(booking: Booking, *, today: date, exact: bool) -> None:
    """Check-in needs the visit's own day; a no-show can be marked from that day on."""
    if booking.day > today or (exact and booking.day != today):
        raise StaffNotChangeable(kind="other_day", state=booking.state, day=booking.day)


async def _entry(db: Connection, booking: Booking) -> QueueEntry:
    resident = await residents.get_resident(db, booking.nik)
    return QueueEntry(booking, resident.nama if resident else mask_number(booking.nik))
