"""The citizen's booking rules: book, reschedule, cancel, release; each one write transaction.

Every rule is checked inside the same `BEGIN IMMEDIATE` transaction as the write, so capacity
holds under any concurrency. The partial unique index on (nik, service) is the last word on
"one active booking per person per service"; its IntegrityError becomes AlreadyBooked.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from bot.db import transaction
from bot.domain import HOLDING_STATES, Booking, Resident
from bot.engine import Connection
from bot.errors import BookingNotFound, NotChangeable, OutsideWindow, PointClosed, SlotFull, TooSoon
from bot.services import outbox
from bot.services.booking_rules import (
    RECORDING_MIN_AGE,
    initial_state,
    insert_booking,
    point_for,
    require_drive_serves,
    require_person_may_book,
    require_room,
    require_service_fits,
    require_slot,
)
from bot.services.schedule import booking_window, is_open, next_free_slots, to_utc, wib_day
from bot.services.waitlist import offer_freed_place_in
from bot.storage import bookings
from bot.storage.residents import get_resident
from bot.storage.service_points import ServicePoint, get_service_point
from bot.storage.waitlist import Offer

T = TypeVar("T")
PAST_SHOWN = 5  # finished or cancelled bookings listed under the active ones


@dataclass(frozen=True)
class Listed:
    """A booking as /jadwal lists it: its number, the booking, and whose it is."""

    number: int  # its place among the chat's bookings in the order they were made: stable
    booking: Booking
    person: Resident | None


async def book(
    db: Connection,
    *,
    chat_id: int,
    nik: str,
    service: str,
    point_code: str,
    start_at: datetime,
    now: datetime,
    rng: random.Random | None = None,
    min_age: int = RECORDING_MIN_AGE,
) -> Booking:
    """Book a visit; every rule is checked in the same write transaction as the insert.
    `min_age` is the setting RECORDING_MIN_AGE (who may book a recording). On PostgreSQL
    bookings run side by side, each holding the locks of its chat, person, slot and day
    (storage.bookings.booking_locks, insert_booking); every other writer still runs alone."""
    start = to_utc(start_at)

    async def work() -> Booking:
        point = await point_for(db, point_code, service)
        await require_drive_serves(db, point, nik)
        await require_slot(db, point, start, now=now)
        await require_service_fits(
            db, nik=nik, service=service, day=wib_day(start), min_age=min_age
        )
        await require_person_may_book(db, chat_id=chat_id, nik=nik, service=service, now=now)
        await require_room(db, point, start, now=now)
        return await insert_booking(
            db, point, chat_id=chat_id, nik=nik, service=service, start_at=start, now=now, rng=rng
        )

    locks = bookings.booking_locks(
        db, chat_id=chat_id, nik=nik, service_point=point_code, start_at=start
    )
    return await _write(db, work, now=now, locks=locks)


async def reschedule(
    db: Connection,
    booking_id: int,
    *,
    chat_id: int,
    start_at: datetime,
    now: datetime,
    min_age: int = RECORDING_MIN_AGE,
) -> Booking:
    """Move the chat's booking to another slot (see reschedule_with_offer)."""
    moved, _ = await reschedule_with_offer(
        db, booking_id, chat_id=chat_id, start_at=start_at, now=now, min_age=min_age
    )
    return moved


async def reschedule_with_offer(
    db: Connection,
    booking_id: int,
    *,
    chat_id: int,
    start_at: datetime,
    now: datetime,
    min_age: int = RECORDING_MIN_AGE,
) -> tuple[Booking, Offer | None]:
    """Move the booking to a new slot (new queue number, pending again or auto-confirmed);
    return it and the waitlist offer of the old place, which the caller must send. The person
    must still fit the service on the new day, as for a new booking (a recording: not recorded
    meanwhile, old enough then)."""
    start = to_utc(start_at)

    async def work() -> tuple[Booking, Offer | None]:
        booking = await _changeable(db, booking_id, chat_id=chat_id, now=now)
        if booking.start_at == start:
            return booking, None
        point = await point_for(db, booking.service_point, booking.service)
        await require_slot(db, point, start, now=now)
        day = wib_day(start)
        await require_service_fits(
            db, nik=booking.nik, service=booking.service, day=day, min_age=min_age
        )
        await require_room(db, point, start, now=now)
        await _move(db, booking, point, start, now=now)
        await _withdraw_reminders(db, booking, now=now)  # reminded of the new time only
        return await _reread(db, booking), await _offer_freed(db, booking, now=now)

    return await _write(db, work, now=now)


async def cancel(
    db: Connection, booking_id: int, *, chat_id: int, now: datetime
) -> tuple[Booking, Offer | None]:
    """Cancel the chat's booking; the place is free at once and offered to the waitlist."""
    async with transaction(db):
        return await _give_up(db, booking_id, chat_id=chat_id, state="cancelled", now=now)


async def release(
    db: Connection, booking_id: int, *, chat_id: int, now: datetime
) -> tuple[Booking, Offer | None]:
    """ "Release my place" from the morning question: released, and offered to the waitlist."""
    async with transaction(db):
        return await _give_up(db, booking_id, chat_id=chat_id, state="released", now=now)


async def still_coming(db: Connection, booking_id: int, *, chat_id: int) -> Booking:
    """ "Yes, still coming" from the morning question: the chat's booking if it still holds its
    place (pending or confirmed); else BookingNotFound / NotChangeable. Changes nothing."""
    booking = await bookings.get_booking(db, booking_id)
    if booking is None or booking.chat_id != chat_id:
        raise BookingNotFound()
    if booking.state not in HOLDING_STATES:
        raise NotChangeable(state=booking.state)
    return booking


async def check_person(
    db: Connection,
    *,
    nik: str,
    service: str,
    now: datetime,
    min_age: int = RECORDING_MIN_AGE,
) -> None:
    """Raise what `book` would raise for the person and service today (RecordingNotAllowed:
    too young, or already recorded); quiet if they fit. Read only, for the person step."""
    await require_service_fits(db, nik=nik, service=service, day=wib_day(now), min_age=min_age)


async def check_slot(
    db: Connection, *, point_code: str, service: str, start_at: datetime, now: datetime
) -> None:
    """Raise what `book` would raise for the slot itself (too soon, outside the window, closed,
    full with the next free slots); return quietly if it can still be booked. Read only: `book`
    checks again in its write transaction."""
    start = to_utc(start_at)
    point = await point_for(db, point_code, service)
    await require_slot(db, point, start, now=now)
    try:
        await require_room(db, point, start, now=now)
    except SlotFull as full:
        full.context["next_free"] = await _next_free(db, full, now=now)
        raise


async def check_day(db: Connection, point: ServicePoint, day: date, *, now: datetime) -> None:
    """Why a day has no free slot when it is not simply full: already past (TooSoon), beyond
    the window (OutsideWindow) or the point is closed (PointClosed); quiet otherwise."""
    first, last = booking_window(now)
    if day < first:
        raise TooSoon(start_at=None)
    if day > last:
        raise OutsideWindow(day=day, last_day=last)
    if not await is_open(db, point, day):
        raise PointClosed(day=day, point_code=point.code)


async def chat_bookings(db: Connection, chat_id: int) -> list[Booking]:
    """The chat's bookings: active ones soonest first, then the rest newest first."""
    return await bookings.list_chat_bookings(db, chat_id)


async def listed_bookings(db: Connection, chat_id: int) -> list[Listed]:
    """The chat's active bookings and its PAST_SHOWN latest others, in the order they were made,
    each numbered by that order: a booking keeps its number when it is moved or another one is
    cancelled, so "#2" on a button means the same booking as in the list shown before."""
    every = await bookings.list_chat_bookings(db, chat_id)
    number = {b.id: n for n, b in enumerate(sorted(every, key=lambda b: b.id), start=1)}
    shown = [b for b in every if b.active] + [b for b in every if not b.active][:PAST_SHOWN]
    people = {nik: await get_resident(db, nik) for nik in {b.nik for b in shown}}
    listed = [Listed(number[b.id], b, people[b.nik]) for b in shown]
    return sorted(listed, key=lambda item: item.number)


# --- the rules ---


async def _changeable(db: Connection, booking_id: int, *, chat_id: int, now: datetime) -> Booking:
    """The chat's own booking, still pending or confirmed and not yet begun."""
    booking = await bookings.get_booking(db, booking_id)
    if booking is None or booking.chat_id != chat_id:
        raise BookingNotFound()
    if booking.state not in HOLDING_STATES or booking.start_at <= to_utc(now):
        raise NotChangeable(state=booking.state)
    return booking


# --- the writes ---


async def _write(
    db: Connection,
    work: Callable[[], Awaitable[T]],
    *,
    now: datetime,
    locks: Sequence[int] | None = None,
) -> T:
    """Run `work` in one write transaction (`locks`: bot.db.transaction's); a SlotFull gets its
    next free slots after rollback."""
    try:
        async with transaction(db, locks=locks):
            return await work()
    except SlotFull as full:
        full.context["next_free"] = await _next_free(db, full, now=now)
        raise


async def _next_free(db: Connection, full: SlotFull, *, now: datetime) -> list[Any]:
    point = await get_service_point(db, full.context["point_code"])
    if point is None:
        return []
    return await next_free_slots(db, point, full.context["start_at"], now=now)


async def _move(
    db: Connection,
    booking: Booking,
    point: ServicePoint,
    start: datetime,
    *,
    now: datetime,
) -> None:
    day = wib_day(start)
    number = await bookings.next_queue_number(db, point.code, day)
    state = await initial_state(db, point)
    await bookings.move_booking(
        db, booking.id, start_at=start, day=day, queue_number=number, state=state, now=now
    )


async def _give_up(
    db: Connection, booking_id: int, *, chat_id: int, state: str, now: datetime
) -> tuple[Booking, Offer | None]:
    """Cancel or release the chat's booking and offer its place to the waitlist."""
    booking = await _changeable(db, booking_id, chat_id=chat_id, now=now)
    await bookings.set_state_if(db, booking.id, from_states=HOLDING_STATES, to_state=state, now=now)
    await _withdraw_reminders(db, booking, now=now)
    return await _reread(db, booking), await _offer_freed(db, booking, now=now)


async def _withdraw_reminders(db: Connection, booking: Booking, *, now: datetime) -> None:
    """Its reminders still queued are not sent (keys `booking:<id>:...`, bot.jobs.reminders)."""
    await outbox.withdraw(db, f"booking:{booking.id}:", now=now)


async def _reread(db: Connection, booking: Booking) -> Booking:
    return await bookings.get_booking(db, booking.id) or booking


async def _offer_freed(db: Connection, booking: Booking, *, now: datetime) -> Offer | None:
    """Offer the place `booking` held (before this change) to the waitlist."""
    return await offer_freed_place_in(db, booking.service_point, booking.start_at, now=now)
