"""The citizen's booking rules: book, reschedule, cancel, release; each one write transaction.

Every rule is checked inside the same `BEGIN IMMEDIATE` transaction as the write, so capacity
holds under any concurrency. The partial unique index on (nik, service) is the last word on
"one active booking per person per service"; its IntegrityError becomes AlreadyBooked.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import aiosqlite

from bot.db import transaction
from bot.domain import Booking
from bot.errors import DomainError
from bot.services import outbox
from bot.services.opening_hours import parse_hours
from bot.services.schedule import (
    MIN_LEAD,
    booking_window,
    is_open,
    next_free_slots,
    offers_service,
    remaining_places,
    slot_starts,
    to_utc,
    wib_day,
)
from bot.storage import bookings
from bot.storage.point_settings import get_auto_confirm
from bot.storage.service_points import ServicePoint, get_service_point
from bot.storage.waitlist import Offer

MAX_ACTIVE_PER_CHAT = 3
NO_SHOW_LIMIT = 2
NO_SHOW_WINDOW = timedelta(days=90)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
CHANGEABLE_STATES = ("pending", "confirmed")  # a citizen may move, cancel or release these
_CODE_ATTEMPTS = 8
_SYSTEM_RANDOM = random.SystemRandom()
T = TypeVar("T")


class BookingError(DomainError):
    """A booking rule said no; `kind` in the context picks the sentence the citizen reads."""

    template = "citizen/booking_error.html"
    kind = "not_found"


class SlotFull(BookingError):
    """No place left in the slot; `next_free` lists up to 3 next free slots at the point."""

    kind = "full"


class AlreadyBooked(BookingError):
    """The person already holds an active booking for the service (`booking` if this chat's)."""

    kind = "already_booked"


class TooManyBookings(BookingError):
    """The chat already holds MAX_ACTIVE_PER_CHAT active bookings."""

    kind = "too_many"


class TooSoon(BookingError):
    """The slot is in the past or starts in less than MIN_LEAD."""

    kind = "too_soon"


class OutsideWindow(BookingError):
    """The day is beyond the booking window."""

    kind = "outside_window"


class PointClosed(BookingError):
    """The point does not serve at that time: weekend, holiday, closure or off the grid."""

    kind = "closed"


class ServiceNotOffered(BookingError):
    """The point does not offer the service (or no such point exists)."""

    kind = "not_offered"


class NoShowLimit(BookingError):
    """A person with NO_SHOW_LIMIT no-shows in NO_SHOW_WINDOW may hold only one booking."""

    kind = "no_show_limit"


class BookingNotFound(BookingError):
    """No such booking for this chat (another chat's booking is never revealed)."""

    kind = "not_found"


class NotChangeable(BookingError):
    """The booking is no longer pending or confirmed, or its time has come."""

    kind = "not_changeable"


class OfferExpired(BookingError):
    """The held place's 10 minutes are over, or the offer is no longer open."""

    kind = "offer_expired"


def new_code(rng: random.Random | None = None) -> str:
    """A booking code: 6 characters that read aloud unambiguously (no 0/O, 1/I)."""
    chooser = rng or _SYSTEM_RANDOM
    return "".join(chooser.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def book(
    db: aiosqlite.Connection,
    *,
    chat_id: int,
    nik: str,
    service: str,
    point_code: str,
    start_at: datetime,
    now: datetime,
    rng: random.Random | None = None,
) -> Booking:
    """Book a visit; every rule is checked in the same write transaction as the insert."""
    start = to_utc(start_at)

    async def work() -> Booking:
        point = await _point_for(db, point_code, service)
        await _check_slot(db, point, start, now=now)
        await _check_person(db, chat_id=chat_id, nik=nik, service=service, now=now)
        await _check_room(db, point, start, now=now)
        return await _insert(db, point, chat_id, nik, service, start, now=now, rng=rng)

    return await _write(db, work, now=now)


async def book_held_place(
    db: aiosqlite.Connection, offer: Offer, *, now: datetime, rng: random.Random | None = None
) -> Booking:
    """Book the place an open offer holds for its person; call inside a write transaction."""
    point = await _point_for(db, offer.service_point, offer.service)
    chat_id, nik, service, start = offer.chat_id, offer.nik, offer.service, offer.start_at
    await _check_slot(db, point, start, now=now, lead=False)
    await _check_person(db, chat_id=chat_id, nik=nik, service=service, now=now)
    await _check_room(db, point, start, now=now, ignore_offer=offer.id)
    return await _insert(db, point, chat_id, nik, service, start, now=now, rng=rng)


async def reschedule(
    db: aiosqlite.Connection, booking_id: int, *, chat_id: int, start_at: datetime, now: datetime
) -> Booking:
    """Move the chat's booking to another slot (see reschedule_with_offer)."""
    moved, _ = await reschedule_with_offer(
        db, booking_id, chat_id=chat_id, start_at=start_at, now=now
    )
    return moved


async def reschedule_with_offer(
    db: aiosqlite.Connection, booking_id: int, *, chat_id: int, start_at: datetime, now: datetime
) -> tuple[Booking, Offer | None]:
    """Move the booking to a new slot (new queue number, pending again or auto-confirmed);
    return it and the waitlist offer of the old place, which the caller must send."""
    start = to_utc(start_at)

    async def work() -> tuple[Booking, Offer | None]:
        booking = await _changeable(db, booking_id, chat_id=chat_id, now=now)
        if booking.start_at == start:
            return booking, None
        point = await _point_for(db, booking.service_point, booking.service)
        await _check_slot(db, point, start, now=now)
        await _check_room(db, point, start, now=now)
        await _move(db, booking, point, start, now=now)
        await _withdraw_reminders(db, booking, now=now)  # reminded of the new time only
        return await _reread(db, booking), await _offer_freed(db, booking, now=now)

    return await _write(db, work, now=now)


async def cancel(
    db: aiosqlite.Connection, booking_id: int, *, chat_id: int, now: datetime
) -> tuple[Booking, Offer | None]:
    """Cancel the chat's booking; the place is free at once and offered to the waitlist."""
    async with transaction(db):
        return await _give_up(db, booking_id, chat_id=chat_id, state="cancelled", now=now)


async def release(
    db: aiosqlite.Connection, booking_id: int, *, chat_id: int, now: datetime
) -> tuple[Booking, Offer | None]:
    """ "Release my place" from the morning question: released, and offered to the waitlist."""
    async with transaction(db):
        return await _give_up(db, booking_id, chat_id=chat_id, state="released", now=now)


async def still_coming(db: aiosqlite.Connection, booking_id: int, *, chat_id: int) -> Booking:
    """ "Yes, still coming" from the morning question: the chat's booking if it still holds its
    place (pending or confirmed); else BookingNotFound / NotChangeable. Changes nothing."""
    booking = await bookings.get_booking(db, booking_id)
    if booking is None or booking.chat_id != chat_id:
        raise BookingNotFound()
    if booking.state not in CHANGEABLE_STATES:
        raise NotChangeable(state=booking.state)
    return booking


async def check_slot(
    db: aiosqlite.Connection, *, point_code: str, service: str, start_at: datetime, now: datetime
) -> None:
    """Raise what `book` would raise for the slot itself (too soon, outside the window, closed,
    full with the next free slots); return quietly if it can still be booked. Read only: `book`
    checks again in its write transaction."""
    start = to_utc(start_at)
    point = await _point_for(db, point_code, service)
    await _check_slot(db, point, start, now=now)
    try:
        await _check_room(db, point, start, now=now)
    except SlotFull as full:
        full.context["next_free"] = await _next_free(db, full, now=now)
        raise


async def check_day(
    db: aiosqlite.Connection, point: ServicePoint, day: date, *, now: datetime
) -> None:
    """Why a day has no free slot when it is not simply full: already past (TooSoon), beyond
    the window (OutsideWindow) or the point is closed (PointClosed); quiet otherwise."""
    first, last = booking_window(now)
    if day < first:
        raise TooSoon(start_at=None)
    if day > last:
        raise OutsideWindow(day=day, last_day=last)
    if not await is_open(db, point, day):
        raise PointClosed(day=day, point_code=point.code)


async def chat_bookings(db: aiosqlite.Connection, chat_id: int) -> list[Booking]:
    """The chat's bookings: active ones soonest first, then the rest newest first."""
    return await bookings.list_chat_bookings(db, chat_id)


# --- the rules ---


async def _point_for(db: aiosqlite.Connection, point_code: str, service: str) -> ServicePoint:
    point = await get_service_point(db, point_code)
    if point is None or not offers_service(point, service):
        raise ServiceNotOffered(service=service, point_code=point_code)
    return point


async def _check_slot(
    db: aiosqlite.Connection,
    point: ServicePoint,
    start: datetime,
    *,
    now: datetime,
    lead: bool = True,
) -> None:
    """In the window, at least MIN_LEAD ahead (if `lead`), on the grid of an open day."""
    day = wib_day(start)
    _, last = booking_window(now)
    if start < to_utc(now) + (MIN_LEAD if lead else timedelta(0)):
        raise TooSoon(start_at=start)
    if day > last:
        raise OutsideWindow(day=day, last_day=last)
    hours = parse_hours(point.hours)
    if start not in slot_starts(day, hours=hours) or not await is_open(db, point, day):
        raise PointClosed(day=day, point_code=point.code)


async def _check_person(
    db: aiosqlite.Connection, *, chat_id: int, nik: str, service: str, now: datetime
) -> None:
    """One active booking per person and service, three per chat, one after two no-shows."""
    person = await bookings.person_bookings(db, nik, service, chat_id)
    if person.active_id is not None:
        existing = await bookings.get_booking(db, person.active_id)
        mine = existing is not None and existing.chat_id == chat_id
        raise AlreadyBooked(booking=existing if mine else None)
    if person.for_chat >= MAX_ACTIVE_PER_CHAT:
        raise TooManyBookings(limit=MAX_ACTIVE_PER_CHAT)
    if person.for_nik == 0:
        return
    if await bookings.no_shows_since(db, nik, to_utc(now) - NO_SHOW_WINDOW) >= NO_SHOW_LIMIT:
        raise NoShowLimit(limit=1, no_shows=NO_SHOW_LIMIT, days=NO_SHOW_WINDOW.days)


async def _check_room(
    db: aiosqlite.Connection,
    point: ServicePoint,
    start: datetime,
    *,
    now: datetime,
    ignore_offer: int | None = None,
) -> None:
    """A place left after active bookings and the places held by other open offers."""
    if await remaining_places(db, point, start, now=now, ignore_offer=ignore_offer) <= 0:
        raise SlotFull(point_code=point.code, start_at=start, next_free=[])


async def _changeable(
    db: aiosqlite.Connection, booking_id: int, *, chat_id: int, now: datetime
) -> Booking:
    """The chat's own booking, still pending or confirmed and not yet begun."""
    booking = await bookings.get_booking(db, booking_id)
    if booking is None or booking.chat_id != chat_id:
        raise BookingNotFound()
    if booking.state not in CHANGEABLE_STATES or booking.start_at <= to_utc(now):
        raise NotChangeable(state=booking.state)
    return booking


# --- the writes ---


async def _write(db: aiosqlite.Connection, work: Callable[[], Awaitable[T]], *, now: datetime) -> T:
    """Run `work` in one write transaction; a SlotFull gets its next free slots after rollback."""
    try:
        async with transaction(db):
            return await work()
    except SlotFull as full:
        full.context["next_free"] = await _next_free(db, full, now=now)
        raise


async def _next_free(db: aiosqlite.Connection, full: SlotFull, *, now: datetime) -> list[Any]:
    point = await get_service_point(db, full.context["point_code"])
    if point is None:
        return []
    return await next_free_slots(db, point, full.context["start_at"], now=now)


async def _insert(
    db: aiosqlite.Connection,
    point: ServicePoint,
    chat_id: int,
    nik: str,
    service: str,
    start_at: datetime,
    *,
    now: datetime,
    rng: random.Random | None,
) -> Booking:
    """Insert with the next queue number and a fresh code (retried on the rare collision)."""
    day = wib_day(start_at)
    number = await bookings.next_queue_number(db, point.code, day)
    state = await _initial_state(db, point)
    for _ in range(_CODE_ATTEMPTS):
        try:
            return await bookings.insert_booking(
                db, code=new_code(rng), chat_id=chat_id, nik=nik, service=service,
                service_point=point.code, start_at=start_at, day=day, queue_number=number,
                state=state, now=now,
            )  # fmt: skip
        except sqlite3.IntegrityError as error:
            if "bookings.nik_ref" in str(error):
                raise AlreadyBooked(booking=None) from error
            if "bookings.code" not in str(error):
                raise
    raise RuntimeError("no unused booking code found")


async def _move(
    db: aiosqlite.Connection,
    booking: Booking,
    point: ServicePoint,
    start: datetime,
    *,
    now: datetime,
) -> None:
    day = wib_day(start)
    number = await bookings.next_queue_number(db, point.code, day)
    state = await _initial_state(db, point)
    await bookings.move_booking(
        db, booking.id, start_at=start, day=day, queue_number=number, state=state, now=now
    )


async def _give_up(
    db: aiosqlite.Connection, booking_id: int, *, chat_id: int, state: str, now: datetime
) -> tuple[Booking, Offer | None]:
    """Cancel or release the chat's booking and offer its place to the waitlist."""
    booking = await _changeable(db, booking_id, chat_id=chat_id, now=now)
    await bookings.set_state_if(
        db, booking.id, from_states=CHANGEABLE_STATES, to_state=state, now=now
    )
    await _withdraw_reminders(db, booking, now=now)
    return await _reread(db, booking), await _offer_freed(db, booking, now=now)


async def _withdraw_reminders(db: aiosqlite.Connection, booking: Booking, *, now: datetime) -> None:
    """Its reminders still queued are not sent (keys `booking:<id>:...`, bot.jobs.reminders)."""
    await outbox.withdraw(db, f"booking:{booking.id}:", now=now)


async def _initial_state(db: aiosqlite.Connection, point: ServicePoint) -> str:
    return "confirmed" if await get_auto_confirm(db, point.code) else "pending"


async def _reread(db: aiosqlite.Connection, booking: Booking) -> Booking:
    return await bookings.get_booking(db, booking.id) or booking


async def _offer_freed(
    db: aiosqlite.Connection, booking: Booking, *, now: datetime
) -> Offer | None:
    """Offer the place `booking` held (before this change) to the waitlist."""
    # Imported here because the waitlist service books held places with this module's rules.
    from bot.services.waitlist import offer_freed_place_in

    return await offer_freed_place_in(db, booking.service_point, booking.start_at, now=now)
