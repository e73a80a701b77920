"""Bookings side by side on PostgreSQL: each holds its chat's, person's, slot's and day's locks
(storage.bookings.booking_locks, insert_booking) and the writers' lock shared only, so bookings that
share none of those go on together, and a rule's count is never read past one in flight."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot import db as dbmod
from bot import postgres
from bot.domain import Booking
from bot.errors import NoShowLimit, SlotFull, TooManyBookings
from bot.services.points import update_point
from bot.storage import bookings
from tests.conftest import NOW
from tests.services.test_booking import (
    EKO,
    RUDI,
    TINI,
    add_residents,
    book,
    no_show,
    prepare,
    wib,
)

pytestmark = pytest.mark.parametrize("engine_db", ["postgresql"], indirect=True)
# A guard against a test that would hang, not a measure: a booking alone takes milliseconds.
HANG = 60


@pytest.fixture
async def pool(engine_areas, connect_again, tmp_path):
    """The prepared database and a pool of 20 connections to it, as the running bot has."""
    await prepare(engine_areas, tmp_path)
    pool = await connect_again(pool=20)
    yield engine_areas, pool
    await pool.close()


class Held:
    """A booking kept open after its INSERT, just before COMMIT (bot.db.before_commit), holding
    every lock it took, until `release`."""

    def __init__(self) -> None:
        self.inserted, self.go = asyncio.Event(), asyncio.Event()

    async def book(self, db, nik, **where) -> Booking:
        async def wait(_db) -> None:
            self.inserted.set()
            await self.go.wait()

        dbmod.before_commit.set(wait)  # this task's own context
        return await book(db, nik, **where)

    async def start(self, db, nik, **where) -> asyncio.Task[Booking]:
        task = asyncio.create_task(self.book(db, nik, **where))
        await self.inserted.wait()
        return task

    async def release(self, task: asyncio.Task[Booking]) -> Booking:
        self.go.set()
        return await task


@pytest.mark.parametrize(
    "elsewhere",
    [{"point": "tla-wlingi", "at": wib(25, 9)}, {"point": "kanigoro", "at": wib(26, 9)}],
    ids=["another point", "another day"],
)
async def test_a_booking_in_flight_does_not_hold_up_one_elsewhere(pool, elsewhere):
    """While one booking at Kanigoro on the 25th is open (inserted, not committed), another at
    another point, or on another day, is booked to the end: before, every write transaction
    waited for the one before it."""
    _, conn = pool
    held = Held()
    first = await held.start(conn, RUDI, chat=1, point="kanigoro", at=wib(25, 9))
    async with asyncio.timeout(HANG):
        other = await book(conn, EKO, chat=2, **elsewhere)
    assert not first.done()
    assert (await held.release(first)).queue_number == other.queue_number == 1


async def test_a_place_taken_in_flight_is_not_counted_free(pool):
    """A one-place slot: a second booking that starts while the first is inserted but not
    committed waits for it and then finds the slot full (a racy count would book both)."""
    db, conn = pool
    await update_point(db, "kanigoro", capacity=1, now=NOW)
    held = Held()
    first = await held.start(conn, RUDI, chat=1, at=wib(25, 9))
    second = asyncio.create_task(book(conn, EKO, chat=2, at=wib(25, 9)))
    await _until_waiting_for_a_lock(db, second)
    await held.release(first)
    with pytest.raises(SlotFull):
        await second
    assert await bookings.count_active_in_slot(db, "kanigoro", wib(25, 9)) == 1


async def test_a_chats_third_booking_in_flight_counts(pool):
    """A chat holding two bookings: its third in flight and a fourth started meanwhile, for
    someone else at another slot: the fourth waits and is refused (three per chat)."""
    db, conn = pool
    others = await add_residents(db, 2)
    for n, nik in enumerate(others):
        await book(conn, nik, chat=1, at=wib(25, 10 + n))
    held = Held()
    third = await held.start(conn, RUDI, chat=1, at=wib(25, 9))
    fourth = asyncio.create_task(book(conn, EKO, chat=1, point="tla-wlingi", at=wib(26, 9)))
    await _until_waiting_for_a_lock(db, fourth)
    await held.release(third)
    with pytest.raises(TooManyBookings):
        await fourth


async def test_a_persons_booking_in_flight_counts(pool):
    """Two no-shows allow one active booking: with one in flight for a recording, the same
    person's pick-up booked meanwhile by another chat at another point waits and is refused."""
    db, conn = pool
    await no_show(db, RUDI, at=wib(2, 9, month=10), number=1)
    await no_show(db, RUDI, at=wib(9, 9, month=11), number=2)
    held = Held()
    first = await held.start(conn, RUDI, chat=1, at=wib(25, 9))
    other = asyncio.create_task(book(conn, RUDI, chat=2, service="ambil", at=wib(26, 9)))
    await _until_waiting_for_a_lock(db, other)
    await held.release(first)
    with pytest.raises(NoShowLimit):
        await other


async def test_a_days_numbers_stay_unique_when_its_slots_fill_at_once(pool):
    """70 people book six 10-place slots of one day at once: every queue number of the day
    once, no slot past its places (the day's lock gives the numbers, each slot's the places)."""
    db, conn = pool
    niks = [TINI, *await add_residents(db, 69)]
    starts = [wib(25, 9), wib(25, 9, 30), wib(25, 10), wib(25, 10, 30), wib(25, 11), wib(25, 13)]
    attempts = [
        book(conn, nik, chat=1000 + n, at=starts[n % len(starts)]) for n, nik in enumerate(niks)
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    made = [r for r in results if isinstance(r, Booking)]
    assert Counter(type(r).__name__ for r in results) == {"Booking": 60, "SlotFull": 10}
    assert sorted(b.queue_number for b in made) == list(range(1, 61))
    assert set(Counter(b.start_at for b in made).values()) == {10}


async def test_a_booking_is_eight_round_trips_between_begin_and_commit(pool, monkeypatch):
    """Each round trip to the server counts, and the last one is made while the day's other
    bookings wait: BEGIN takes every lock but the day's (it was BEGIN, then the writers'
    lock), the slot's bookings and offers are counted at once, the day's lock goes with the
    INSERT, which reads the queue number (there were 10 between the lock and COMMIT)."""
    _, conn = pool
    sent = []
    execute, together = postgres.Statements.execute, postgres.Statements.fetchall_together

    def one(self, sql, params=None):
        sent.append(sql)
        return execute(self, sql, params)

    def at_once(self, *statements):
        sent.append(statements)
        return together(self, *statements)

    monkeypatch.setattr(postgres.Statements, "execute", one)
    monkeypatch.setattr(postgres.Statements, "fetchall_together", at_once)
    await book(conn, RUDI, chat=1, at=wib(25, 9))
    assert len(sent) <= 8, sent


async def _until_waiting_for_a_lock(db, attempt: asyncio.Task[Booking]) -> None:
    """Until some transaction waits for a lock another holds (pg_locks, read by the test's own
    connection), or `attempt` ended without waiting (the test then fails on its outcome): the
    server's lock manager has no event to await, so this polls."""
    waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
    async with asyncio.timeout(HANG):
        while not attempt.done() and (await db.execute_fetchall(waiting))[0][0] == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
