"""The workers' one sending budget (bot/services/send_budget.py), over both engines, on a clock
the test moves: whatever the lateness of the sends, Telegram never gets more than `rate`
messages within one second; the outbox leaves room for replies; a killed worker's grants are
given up after a while."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from bot.services import send_budget
from bot.services.send_budget import LOST_AFTER
from tests.workers.harness import busiest_second

RATE = 30


async def drain(db, count: int, arrival, *, replies: int = 0) -> list[float]:
    """The outbox sending `count` messages as fast as the budget lets it (every `replies`th a
    reply instead), each reaching the server at `arrival(moment granted)` and answered 10 ms
    later; the moments they reached it."""
    arrived: list[float] = []
    answered: list[tuple[float, int]] = []  # (moment answered, grant)
    now = 0.0
    while len(arrived) < count:
        if answered and answered[0][0] <= now:
            at, grant = heapq.heappop(answered)
            await send_budget.done(db, grant, now=at)
            continue
        background = not replies or len(arrived) % replies != 0
        turn = await send_budget.take(db, rate=RATE, background=background, now=now)
        if turn.grant is None:
            now += turn.wait
            continue
        reached = arrival(now + turn.wait)
        arrived.append(reached)
        heapq.heappush(answered, (reached + 0.01, turn.grant))
    return arrived


@pytest.mark.parametrize("replies", [0, 3], ids=["outbox", "outbox-and-replies"])
async def test_sends_that_reach_telegram_late_never_crowd_one_second(engine_db, replies):
    """A worker's event loop stalls for a second: everything granted meanwhile reaches the
    server at its end, together with the messages granted from then on. Counted until they are
    answered, the late ones leave room for only as many more as keep that second at RATE
    (replies among them take moments ahead)."""

    def stalled(moment: float) -> float:
        return 1.0 if moment < 1.0 else moment

    arrived = await drain(engine_db, 4 * RATE, stalled, replies=replies)
    assert busiest_second(arrived) <= RATE
    # and the budget is used: nine tenths of RATE a second once the stall is over
    assert busiest_second([at for at in arrived if at >= 2.1]) >= RATE - RATE // 10 - 1


async def test_on_time_sends_go_at_nine_tenths_of_the_rate(engine_db):
    arrived = await drain(engine_db, 3 * RATE, lambda moment: moment)
    assert busiest_second(arrived) == RATE - RATE // 10
    assert min(b - a for a, b in itertools.pairwise(arrived)) >= 1 / RATE - 1e-9


async def test_each_moment_is_granted_once_and_replies_take_the_next(engine_db):
    first = await send_budget.take(engine_db, rate=RATE, background=False, now=100.0)
    assert (first.grant, first.wait) == (1, 0.0)
    outbox = await send_budget.take(engine_db, rate=RATE, background=True, now=100.0)
    assert outbox.grant is None
    assert outbox.wait == pytest.approx(1 / RATE)  # the next moment is not free yet
    second = await send_budget.take(engine_db, rate=RATE, background=False, now=100.0)
    assert second.grant == 2
    assert second.wait == pytest.approx(1 / RATE)  # a reply takes the next moment


async def test_the_outbox_leaves_a_tenth_of_the_budget_to_replies(engine_db):
    now, granted = 0.0, 0
    while (turn := await send_budget.take(engine_db, rate=RATE, background=True, now=now)).grant:
        granted += 1
        now += turn.wait + 1 / RATE  # none answered yet: all still busy
    assert granted == RATE - RATE // 10
    replies = [await send_budget.take(engine_db, rate=RATE, background=False, now=now)]
    replies += [await send_budget.take(engine_db, rate=RATE, background=False, now=now)]
    replies += [await send_budget.take(engine_db, rate=RATE, background=False, now=now)]
    assert all(turn.grant is not None for turn in replies)
    full = await send_budget.take(engine_db, rate=RATE, background=False, now=now)
    assert full.grant is None  # RATE busy: not even a reply until one is answered


async def test_a_reply_takes_the_first_moment_with_room_before_the_outbox(engine_db):
    for n in range(RATE):  # a second's sends, each answered at once
        turn = await send_budget.take(engine_db, rate=RATE, background=False, now=n / RATE)
        await send_budget.done(engine_db, turn.grant, now=n / RATE)
    now = (RATE - 1) / RATE + 0.01
    outbox = await send_budget.take(engine_db, rate=RATE, background=True, now=now)
    assert outbox.grant is None
    assert outbox.wait == pytest.approx(1.0 - now)  # when the first answer leaves the second
    reply = await send_budget.take(engine_db, rate=RATE, background=False, now=now)
    assert reply.grant is not None
    assert reply.wait == pytest.approx(1.0 - now)  # that moment, taken ahead
    # and the outbox waits for the next one
    assert (await send_budget.take(engine_db, rate=RATE, background=True, now=1.0)).grant is None


async def test_a_reply_waiting_for_room_holds_the_outbox_back(engine_db):
    turns = [
        await send_budget.take(engine_db, rate=RATE, background=False, now=0.0) for _ in range(RATE)
    ]  # a second's replies, none answered yet: no room, and none known to come
    waiting = await send_budget.take(engine_db, rate=RATE, background=False, now=1.0)
    assert waiting.grant is None
    await send_budget.done(engine_db, turns[0].grant, now=1.01)
    outbox = await send_budget.take(engine_db, rate=RATE, background=True, now=1.02)
    assert outbox.grant is None  # the reply asks again first
    reply = await send_budget.take(engine_db, rate=RATE, background=False, now=1.03)
    assert reply.grant is not None
    assert reply.wait == pytest.approx(1.01 + 1.0 - 1.03)  # once the answered one is a second old


async def test_grants_of_a_killed_worker_are_given_up_after_a_while(engine_db):
    for _ in range(RATE):  # a worker takes a second's grants and is killed: none reported
        assert (await send_budget.take(engine_db, rate=RATE, background=False, now=0.0)).grant
    stuck = await send_budget.take(engine_db, rate=RATE, background=False, now=LOST_AFTER - 1)
    assert stuck.grant is None
    later = await send_budget.take(engine_db, rate=RATE, background=False, now=LOST_AFTER + 2)
    assert later.grant is not None


async def test_workers_taking_at_once_share_one_budget(engine_db, connect_again):
    """Two workers' connections ask side by side: each grant goes to one, RATE in all."""
    other = await connect_again()
    try:
        turns = await asyncio.gather(
            *(
                send_budget.take(db, rate=RATE, background=False, now=5.0)
                for _ in range(RATE)
                for db in (engine_db, other)
            )
        )
    finally:
        await other.close()
    grants = [turn.grant for turn in turns if turn.grant is not None]
    assert sorted(grants) == list(range(1, RATE + 1))
