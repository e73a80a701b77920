"""The waitlist: a freed place is held for the next person in line for HOLD, then passed on.

A held place counts against the slot's capacity (see `schedule.remaining_places`), so only the
person it is held for can book it. A person whose offer runs out stays on the waitlist but is
never offered that same slot again.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from bot.db import transaction
from bot.domain import Booking
from bot.engine import Connection
from bot.errors import AlreadyBooked, BookingNotFound, OfferExpired, OutsideWindow
from bot.services.booking_rules import (
    RECORDING_MIN_AGE,
    insert_booking,
    point_for,
    require_person_may_book,
    require_room,
    require_service_fits,
    require_slot,
)
from bot.services.schedule import (
    MIN_LEAD,
    booking_window,
    is_open,
    remaining_places,
    to_utc,
    wib_day,
)
from bot.storage import bookings
from bot.storage import waitlist as store
from bot.storage.service_points import ServicePoint, get_service_point
from bot.storage.waitlist import Offer, WaitlistEntry

__all__ = [
    "HOLD",
    "Offer",
    "WaitlistEntry",
    "book_held_place",
    "chat_waitlist",
    "expire_offers",
    "join_waitlist",
    "leave_waitlist",
    "offer_freed_place",
    "offer_freed_place_in",
    "take_offer",
]

HOLD = timedelta(minutes=10)
_WAITING = ("waiting", "offered")


async def join_waitlist(
    db: Connection,
    *,
    chat_id: int,
    nik: str,
    service: str,
    point_code: str,
    first_day: date,
    last_day: date,
    now: datetime,
    min_age: int = RECORDING_MIN_AGE,
) -> int:
    """Wait for a freed place at the point between the days; return the entry's id.

    Asking again for the same point and days returns the same entry; asking for others
    replaces the person's entry for that service (at the back of the line).
    """
    async with transaction(db):
        await _check_wish(db, nik, service, point_code, first_day, last_day, now=now)
        await require_service_fits(db, nik=nik, service=service, day=first_day, min_age=min_age)
        current = await store.current_entry(db, nik, service)
        if current and current.wish == (point_code, first_day, last_day):
            return current.id
        if current:
            await store.set_entry_state_if(
                db, current.id, from_states=_WAITING, to_state="cancelled"
            )
        return await store.insert_entry(
            db,
            chat_id=chat_id,
            nik=nik,
            service=service,
            service_point=point_code,
            first_day=first_day,
            last_day=last_day,
            now=now,
        )


async def leave_waitlist(db: Connection, waitlist_id: int, *, chat_id: int) -> None:
    """Leave the waitlist; a place held for the entry passes on when its hold runs out."""
    async with transaction(db):
        entry = await store.get_entry(db, waitlist_id)
        if entry is None or entry.chat_id != chat_id:
            raise BookingNotFound()
        await store.set_entry_state_if(db, entry.id, from_states=_WAITING, to_state="cancelled")


async def chat_waitlist(db: Connection, chat_id: int) -> list[WaitlistEntry]:
    """The chat's entries still waiting (or holding an offer), oldest first."""
    return await store.list_chat_entries(db, chat_id, states=_WAITING)


async def offer_freed_place(
    db: Connection, point_code: str, start_at: datetime, *, now: datetime
) -> Offer | None:
    """Offer a freed place to the next in line, in its own write transaction."""
    async with transaction(db):
        return await offer_freed_place_in(db, point_code, start_at, now=now)


async def offer_freed_place_in(
    db: Connection, point_code: str, start_at: datetime, *, now: datetime
) -> Offer | None:
    """Hold a free place in the slot for the next in line; call inside a write transaction."""
    start = to_utc(start_at)
    point = await get_service_point(db, point_code)
    if point is None or not await _worth_offering(db, point, start, now=now):
        return None
    entry = await store.next_in_line(db, point.code, start, wib_day(start))
    return await _hold(db, entry, start, now=now) if entry else None


async def take_offer(
    db: Connection,
    offer_id: int,
    *,
    chat_id: int,
    now: datetime,
    min_age: int = RECORDING_MIN_AGE,
) -> Booking:
    """Book the place held for this chat; OfferExpired once the hold has run out."""
    async with transaction(db):
        offer = await _open_offer(db, offer_id, chat_id=chat_id, now=now)
        booking = await book_held_place(db, offer, now=now, min_age=min_age)
        await store.set_offer_state_if(db, offer.id, from_state="open", to_state="taken")
        await store.set_entry_state_if(
            db, offer.waitlist_id, from_states=("offered",), to_state="booked"
        )
        return booking


async def book_held_place(
    db: Connection,
    offer: Offer,
    *,
    now: datetime,
    rng: random.Random | None = None,
    min_age: int = RECORDING_MIN_AGE,
) -> Booking:
    """Book the place an open offer holds for its person; call inside a write transaction.
    The booking rules apply, except the lead time and the place the offer itself holds."""
    point = await point_for(db, offer.service_point, offer.service)
    chat_id, nik, service, start = offer.chat_id, offer.nik, offer.service, offer.start_at
    await require_slot(db, point, start, now=now, lead=False)
    await require_service_fits(db, nik=nik, service=service, day=wib_day(start), min_age=min_age)
    await require_person_may_book(db, chat_id=chat_id, nik=nik, service=service, now=now)
    await require_room(db, point, start, now=now, ignore_offer=offer.id)
    return await insert_booking(
        db, point, chat_id=chat_id, nik=nik, service=service, start_at=start, now=now, rng=rng
    )


async def expire_offers(db: Connection, *, now: datetime) -> list[Offer]:
    """End the holds that ran out, offer each place to the next in line; return the new offers."""
    _, fresh = await expire_offers_and_tell(db, now=now)
    return fresh


async def expire_offers_and_tell(
    db: Connection, *, now: datetime
) -> tuple[list[Offer], list[Offer]]:
    """As `expire_offers`; return the offers that ended (their messages are now out of date)
    and the new ones."""
    async with transaction(db):
        overdue = await store.overdue_offers(db, now=now)
        for offer in overdue:
            await store.set_offer_state_if(db, offer.id, from_state="open", to_state="expired")
            await store.set_entry_state_if(
                db, offer.waitlist_id, from_states=("offered",), to_state="waiting"
            )
        await store.expire_entries_before(db, wib_day(now))
        fresh = [
            await offer_freed_place_in(db, o.service_point, o.start_at, now=now) for o in overdue
        ]
    return overdue, [offer for offer in fresh if offer is not None]


async def _check_wish(
    db: Connection,
    nik: str,
    service: str,
    point_code: str,
    first_day: date,
    last_day: date,
    *,
    now: datetime,
) -> None:
    await point_for(db, point_code, service)
    first, last = booking_window(now)
    if not first <= first_day <= last_day <= last:
        raise OutsideWindow(day=last_day, last_day=last)
    if await bookings.get_active_booking(db, nik, service) is not None:
        raise AlreadyBooked(booking=None)


async def _worth_offering(
    db: Connection, point: ServicePoint, start: datetime, *, now: datetime
) -> bool:
    """Still bookable: far enough ahead, the point open that day, a place not taken or held."""
    if start < to_utc(now) + MIN_LEAD or not await is_open(db, point, wib_day(start)):
        return False
    return await remaining_places(db, point, start, now=now) > 0


async def _hold(db: Connection, entry: WaitlistEntry, start: datetime, *, now: datetime) -> Offer:
    expires = to_utc(now) + HOLD
    offer_id = await store.insert_offer(
        db,
        waitlist_id=entry.id,
        service_point=entry.service_point,
        start_at=start,
        expires_at=expires,
        now=now,
    )
    await store.set_entry_state_if(db, entry.id, from_states=("waiting",), to_state="offered")
    return Offer(
        id=offer_id,
        waitlist_id=entry.id,
        chat_id=entry.chat_id,
        nik=entry.nik,
        service=entry.service,
        service_point=entry.service_point,
        start_at=start,
        expires_at=expires,
    )


async def _open_offer(db: Connection, offer_id: int, *, chat_id: int, now: datetime) -> Offer:
    """The offer if it is this chat's, still open, unexpired and its entry still waiting."""
    found = await store.get_offer(db, offer_id)
    if found is None or found[0].chat_id != chat_id:
        raise BookingNotFound()
    offer, state = found
    if state == "taken":
        raise AlreadyBooked(booking=None)
    entry = await store.get_entry(db, offer.waitlist_id)
    still_waiting = entry is not None and entry.state == "offered"
    if state != "open" or offer.expires_at <= to_utc(now) or not still_waiting:
        raise OfferExpired()
    return offer
