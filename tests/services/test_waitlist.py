"""The waitlist: offer, hold, take; expiry and the next in line; release and reschedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, timedelta

import pytest

from bot.engine import is_postgresql
from bot.errors import (
    AlreadyBooked,
    BookingNotFound,
    OfferExpired,
    OutsideWindow,
    RecordingNotAllowed,
    ServiceNotOffered,
    SlotFull,
    TooManyBookings,
)
from bot.services import booking as svc
from bot.services import waitlist as wl
from bot.services.schedule import free_slots
from bot.storage import bookings
from bot.storage import waitlist as store
from bot.storage.service_points import get_service_point
from tests.conftest import NOW
from tests.services.test_booking import (
    ADI,
    ANI,
    BUDI,
    DEWI,
    EKO,
    RUDI,
    TINI,
    add_residents,
    book,
    loaded,
    wib,
)

__all__ = ["loaded"]  # the fixture, shared with the booking tests

POINT = "kec-kanigoro"  # 3 places a slot
NINE = wib(25, 9)
LATER = NOW + wl.HOLD


async def join(db, nik, *, chat, first=date(2026, 11, 24), last=date(2026, 12, 7), now=NOW):
    return await wl.join_waitlist(
        db,
        chat_id=chat,
        nik=nik,
        service="rekam",
        point_code=POINT,
        first_day=first,
        last_day=last,
        now=now,
    )


@pytest.fixture
async def full(loaded):
    """Wednesday 09:00 at the Kanigoro kecamatan office is full (chats 1, 2, 3)."""
    made = [
        await book(loaded, nik, chat=chat, point=POINT, at=NINE)
        for chat, nik in ((1, RUDI), (2, ANI), (3, EKO))
    ]
    return loaded, made


async def entry_state(db, entry_id):
    entry = await store.get_entry(db, entry_id)
    assert entry is not None
    return entry.state


# --- joining and leaving ---


async def test_join_twice_is_the_same_entry_and_other_days_replace_it(loaded):
    first = await join(loaded, TINI, chat=4)
    assert await join(loaded, TINI, chat=4) == first
    other = await join(loaded, TINI, chat=4, last=date(2026, 11, 30))
    assert other != first
    assert (await entry_state(loaded, first), await entry_state(loaded, other)) == (
        "cancelled",
        "waiting",
    )
    assert [e.id for e in await wl.chat_waitlist(loaded, 4)] == [other]


async def test_join_refusals(loaded):
    with pytest.raises(ServiceNotOffered):
        await wl.join_waitlist(
            loaded,
            chat_id=4,
            nik=TINI,
            service="rusak",
            point_code=POINT,
            first_day=date(2026, 11, 25),
            last_day=date(2026, 11, 26),
            now=NOW,
        )
    for first, last in [
        (date(2026, 11, 23), date(2026, 11, 26)),  # yesterday
        (date(2026, 11, 26), date(2026, 12, 8)),  # beyond the window
        (date(2026, 11, 27), date(2026, 11, 26)),  # backwards
    ]:
        with pytest.raises(OutsideWindow):
            await join(loaded, TINI, chat=4, first=first, last=last)
    await book(loaded, TINI, chat=4, point=POINT)
    with pytest.raises(AlreadyBooked):
        await join(loaded, TINI, chat=4)


async def test_who_may_not_book_a_recording_may_not_wait_for_one(loaded):
    for nik, kind in [(ADI, "too_young"), (BUDI, "already_recorded")]:
        with pytest.raises(RecordingNotAllowed) as refused:
            await join(loaded, nik, chat=4)
        assert refused.value.context["kind"] == kind


async def test_leave_only_your_own_entry(full):
    db, made = full
    entry = await join(db, TINI, chat=4)
    with pytest.raises(BookingNotFound):
        await wl.leave_waitlist(db, entry, chat_id=5)
    await wl.leave_waitlist(db, entry, chat_id=4)
    _, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    assert offer is None
    assert await wl.chat_waitlist(db, 4) == []


# --- offer, hold, take ---


async def test_cancel_offers_the_place_which_is_held_then_taken(full):
    db, made = full
    entry = await join(db, TINI, chat=4)
    cancelled, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    assert cancelled.state == "cancelled"
    assert offer == wl.Offer(
        offer.id, entry, 4, TINI, "rekam", POINT, NINE.astimezone(UTC), NOW + wl.HOLD
    )
    assert await entry_state(db, entry) == "offered"
    with pytest.raises(SlotFull):  # nobody else can snipe the held place
        await book(db, DEWI, chat=6, point=POINT, at=NINE)
    point = await get_service_point(db, POINT)
    assert point is not None
    slots = await free_slots(db, point, date(2026, 11, 25), now=NOW)
    assert NINE.astimezone(UTC) not in [s.start_at for s in slots]
    taken = await wl.take_offer(db, offer.id, chat_id=4, now=NOW + timedelta(minutes=9))
    assert (taken.nik, taken.chat_id, taken.start_at, taken.state) == (
        TINI,
        4,
        NINE.astimezone(UTC),
        "pending",
    )
    assert await entry_state(db, entry) == "booked"


async def test_only_the_offered_chat_takes_it_and_only_once(full):
    db, made = full
    await join(db, TINI, chat=4)
    _, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    assert offer is not None
    with pytest.raises(BookingNotFound):
        await wl.take_offer(db, offer.id, chat_id=1, now=NOW)
    with pytest.raises(BookingNotFound):
        await wl.take_offer(db, 999, chat_id=4, now=NOW)
    await wl.take_offer(db, offer.id, chat_id=4, now=NOW)
    with pytest.raises(AlreadyBooked):  # a double tap
        await wl.take_offer(db, offer.id, chat_id=4, now=NOW)


async def test_a_held_place_is_not_offered_twice(full):
    db, made = full
    await join(db, TINI, chat=4)
    await join(db, DEWI, chat=5)
    _, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    assert offer is not None
    assert offer.chat_id == 4
    assert await wl.offer_freed_place(db, POINT, NINE, now=NOW) is None
    _, second = await svc.cancel(db, made[1].id, chat_id=2, now=NOW)
    assert second is not None
    assert second.chat_id == 5


async def test_expiry_passes_the_place_to_the_next_in_line(full):
    db, made = full
    first = await join(db, TINI, chat=4)
    second = await join(db, DEWI, chat=5)
    _, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    assert await wl.expire_offers(db, now=LATER - timedelta(seconds=1)) == []
    [next_offer] = await wl.expire_offers(db, now=LATER)
    assert (next_offer.chat_id, next_offer.waitlist_id) == (5, second)
    assert next_offer.expires_at == LATER + wl.HOLD
    with pytest.raises(OfferExpired) as late:
        await wl.take_offer(db, offer.id, chat_id=4, now=LATER)
    assert late.value.context["kind"] == "offer_expired"
    assert await entry_state(db, first) == "waiting"  # still on the list, for other places
    assert (await wl.take_offer(db, next_offer.id, chat_id=5, now=LATER)).nik == DEWI


async def test_expiry_with_nobody_left_frees_the_place_for_everyone(full):
    db, made = full
    await join(db, TINI, chat=4)
    await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    with pytest.raises(SlotFull):
        await book(db, DEWI, chat=6, point=POINT, at=NINE, now=LATER - timedelta(seconds=1))
    assert await wl.expire_offers(db, now=LATER) == []  # TINI was offered this slot already
    assert (await book(db, DEWI, chat=6, point=POINT, at=NINE, now=LATER)).nik == DEWI


async def test_an_offer_is_void_once_the_person_left_the_waitlist(full):
    db, made = full
    entry = await join(db, TINI, chat=4)
    _, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    await wl.leave_waitlist(db, entry, chat_id=4)
    with pytest.raises(OfferExpired):
        await wl.take_offer(db, offer.id, chat_id=4, now=NOW)


async def test_who_is_skipped(full):
    """Entries for other days and people who booked meanwhile are passed over."""
    db, made = full
    await join(db, TINI, chat=4, first=date(2026, 11, 26))
    await join(db, DEWI, chat=5)
    await book(db, DEWI, chat=5, point=POINT, at=wib(30, 9))
    _, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    assert offer is None


async def test_no_offer_less_than_an_hour_ahead(loaded):
    await join(loaded, TINI, chat=4)
    slot = wib(25, 8, 30)
    assert await wl.offer_freed_place(loaded, POINT, slot, now=wib(25, 7, 31)) is None
    offer = await wl.offer_freed_place(loaded, POINT, slot, now=wib(25, 7, 30))
    assert offer is not None
    assert offer.chat_id == 4


async def test_expire_offers_retires_waiting_entries_whose_days_passed(loaded):
    entry = await join(loaded, TINI, chat=4, last=date(2026, 11, 25))
    await wl.expire_offers(loaded, now=wib(26, 0, 1))
    assert await entry_state(loaded, entry) == "expired"


# --- release and reschedule hand the place on ---


async def test_release_from_the_morning_question_offers_the_place(full):
    db, made = full
    await join(db, TINI, chat=4)
    morning = wib(25, 6)
    released, offer = await svc.release(db, made[2].id, chat_id=3, now=morning)
    assert released.state == "released"
    assert offer is not None
    assert (offer.chat_id, offer.start_at) == (4, NINE.astimezone(UTC))
    taken = await wl.take_offer(db, offer.id, chat_id=4, now=morning + timedelta(minutes=5))
    assert taken.day == date(2026, 11, 25)


async def test_reschedule_offers_the_old_place(full):
    db, made = full
    await join(db, TINI, chat=4)
    moved, offer = await svc.reschedule_with_offer(
        db, made[1].id, chat_id=2, start_at=wib(26, 9), now=NOW
    )
    assert moved.day == date(2026, 11, 26)
    assert offer is not None
    assert (offer.chat_id, offer.start_at) == (4, NINE.astimezone(UTC))


async def test_a_taker_still_obeys_the_chat_limit(full):
    db, made = full
    await join(db, TINI, chat=1)
    for nik in (DEWI, ANI):
        await book(db, nik, chat=1, service="ambil", point="kanigoro")
    _, offer = await svc.cancel(db, made[0].id, chat_id=1, now=NOW)
    await book(db, RUDI, chat=1, service="ambil", point="kanigoro")
    assert offer is not None
    with pytest.raises(TooManyBookings):
        await wl.take_offer(db, offer.id, chat_id=1, now=NOW)


# --- under contention, each attempt on its own connection ---


async def test_freed_places_go_to_the_line_under_contention(full, connect_again):
    """The three holders cancel while 60 others try the same slot, then the three offered
    take their places while 60 more try: nobody outside the line gets a place, each place is
    offered once to one of the three first in line, and the slot never holds more than 3
    (bookings and open offers)."""
    db, made = full
    niks = await add_residents(db, 123, first_serial=300)
    line = [await join(db, nik, chat=4000 + n) for n, nik in enumerate(niks[:3])]
    if is_postgresql(db):
        conns = [await connect_again(pool=20)]  # the bot's shape: transactions on a pool
    else:
        conns = [await connect_again() for _ in range(63)]
        for conn in conns:
            await conn.execute("PRAGMA busy_timeout = 60000")
    try:
        cancels = [
            svc.cancel(conns[n % len(conns)], b.id, chat_id=b.chat_id, now=NOW)
            for n, b in enumerate(made)
        ]
        first = await _race(conns, cancels, niks[3:63])
        offers = [offer for _, offer in first[:3]]
        assert sorted(o.waitlist_id for o in offers) == line
        assert await _held(db) == (0, 3)
        takes = [
            wl.take_offer(conns[n % len(conns)], o.id, chat_id=o.chat_id, now=NOW)
            for n, o in enumerate(offers)
        ]
        taken = await _race(conns, takes, niks[63:])
        assert sorted(b.chat_id for b in taken[:3]) == [4000, 4001, 4002]
        assert await _held(db) == (3, 0)
    finally:
        for conn in conns:
            await conn.close()


async def _race(conns, own, others):
    """`own` and a booking of each of `others` in the slot at once; the outcome of `own`.
    Every other attempt must find the slot full."""
    tries = [
        book(conns[(n + 3) % len(conns)], nik, chat=5000 + n, point=POINT, at=NINE)
        for n, nik in enumerate(others)
    ]
    results = await asyncio.gather(*own, *tries, return_exceptions=True)
    assert all(isinstance(r, SlotFull) for r in results[len(own) :])
    assert not any(isinstance(r, BaseException) for r in results[: len(own)]), results
    return results


async def _held(db) -> tuple[int, int]:
    """Active bookings and open offers in the slot."""
    start = NINE.astimezone(UTC)
    booked = await bookings.count_active_in_slot(db, POINT, start)
    offered = await store.count_open_offers(db, POINT, start, now=NOW)
    return booked, offered
