"""The Pacer: one sending budget within Telegram's limits, driven by a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import BadRequest

from bot.ratelimit import (
    FLOOD_SIGNAL_CHATS,
    GROUP_MESSAGES,
    MAX_REPLY_PAUSE,
    SPACING_MARGIN,
    PacedRateLimiter,
    Pacer,
)
from bot.services.send_budget import LATE_START


class FakeTime:
    """A monotonic clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def pacer(rate: int) -> tuple[Pacer, FakeTime]:
    fake = FakeTime()
    return Pacer(rate, clock=fake.clock, sleep=fake.sleep), fake


async def moments(p: Pacer, fake: FakeTime, chats: list[int], *, background: bool) -> list[float]:
    taken = []
    for chat in chats:
        await p.acquire(chat, background=background)
        taken.append(round(fake.now, 6))
    return taken


async def test_the_overall_rate_spaces_messages_evenly():
    p, fake = pacer(10)
    assert await moments(p, fake, list(range(1, 21)), background=True) == [
        round(n * SPACING_MARGIN / 10, 6) for n in range(20)
    ]


async def test_one_private_chat_gets_at_most_one_background_message_a_second():
    p, fake = pacer(30)
    assert await moments(p, fake, [5, 5, 5], background=True) == [0.0, 1.0, 2.0]


async def test_a_group_gets_at_most_twenty_a_minute():
    p, fake = pacer(30)
    taken = await moments(p, fake, [-100] * (GROUP_MESSAGES + 1), background=False)
    assert taken[GROUP_MESSAGES - 1] < 1.0  # the first twenty go at the overall rate
    assert taken[GROUP_MESSAGES] == 60.0  # the 21st waits for the first to leave the minute


async def test_a_reply_does_not_queue_behind_the_background():
    p, fake = pacer(30)
    await moments(p, fake, list(range(1, 31)), background=True)  # a second of broadcast
    before = fake.now
    await p.acquire(999, background=False)
    assert (
        fake.now - before <= SPACING_MARGIN / 30 + 1e-9
    )  # at most one interval, not behind a backlog


async def test_background_never_reserves_ahead_of_replies():
    p, fake = pacer(2)
    step = SPACING_MARGIN / 2
    await p.acquire(1, background=True)  # takes 0.0; next free moment one step later
    reply = asyncio.create_task(p.acquire(2, background=False))
    background = asyncio.create_task(p.acquire(3, background=True))
    await asyncio.gather(reply, background)
    assert round(fake.now, 6) == round(2 * step, 6)  # reply at one step, background after it


async def test_a_429_holds_its_chat_only():
    p, fake = pacer(30)
    p.flooded(1, 7)
    await p.acquire(2, background=False)
    await p.acquire(3, background=True)
    assert fake.now < 0.1  # other chats, replies and outbox alike, go on
    await p.acquire(1, background=False)
    assert fake.now == 7.0
    assert p.chat_wait(1) == 0.0


async def test_the_outbox_holds_back_a_chat_answered_429():
    p, _fake = pacer(30)
    p.flooded(-100, 40)
    assert p.chat_wait(-100) == 40.0  # the sender puts its messages back for 40 s
    assert p.chat_wait(5) == 0.0


async def test_429s_for_several_chats_pause_the_outbox_and_delay_replies_a_second_at_most():
    p, fake = pacer(30)
    for chat in range(1, FLOOD_SIGNAL_CHATS + 1):
        p.flooded(chat, 10)
    await p.acquire(999, background=False)
    assert fake.now == MAX_REPLY_PAUSE
    await p.acquire(998, background=True)
    assert fake.now == 10.0


async def test_a_429_without_a_chat_is_a_signal_of_the_whole_bot():
    p, fake = pacer(30)
    p.flooded(None, 5)
    await p.acquire(998, background=True)
    assert fake.now == 5.0


async def test_rate_zero_lifts_the_limits_but_not_a_429():
    p, fake = pacer(0)
    await moments(p, fake, [5] * 100 + [-100] * 100, background=True)
    assert fake.now == 0.0
    p.flooded(5, 3)
    await p.acquire(5, background=True)
    assert fake.now == 3.0


async def test_a_call_done_already_is_no_error():
    """An update handled again (its worker died after answering it, several workers): Telegram
    refuses a second answer to its press and an edit to what the message says already; the
    handler goes on instead of apologising."""
    limiter = PacedRateLimiter(pacer(30)[0])

    async def answered_already(**_kwargs):
        raise BadRequest("Query is too old and response timeout expired or query id is invalid")

    async def other(**_kwargs):
        raise BadRequest("Message to edit not found")

    async def said_already(**_kwargs):
        raise BadRequest("Message is not modified: specified new message content and reply ...")

    args = ((), {}, "answerCallbackQuery", {"callback_query_id": "1"}, None)
    assert await limiter.process_request(answered_already, *args) is True
    with pytest.raises(BadRequest, match="not found"):
        await limiter.process_request(other, *args)
    edit = ((), {}, "editMessageText", {"chat_id": 5, "message_id": 1, "text": "x"}, None)
    assert await limiter.process_request(said_already, *edit) is True
    with pytest.raises(BadRequest, match="not found"):
        await limiter.process_request(other, *edit)


class FakeShared:
    """A shared budget (several workers) granting each ask a moment `wait` seconds ahead."""

    def __init__(self, wait: float) -> None:
        self.wait, self.granted, self.reported = wait, 0, []

    async def take(self, *, background: bool) -> tuple[int | None, float]:
        self.granted += 1
        return self.granted, self.wait

    async def done(self, grant: int) -> None:
        self.reported.append(grant)


async def test_a_send_woken_too_late_for_its_shared_moment_gives_it_up():
    fake = FakeTime()
    late = [LATE_START + 1.0]  # the event loop stalls once, past the first moment

    async def sleep(seconds: float) -> None:
        await fake.sleep(seconds + (late.pop() if late else 0.0))

    p = Pacer(30, clock=fake.clock, sleep=sleep)
    p.shared = shared = FakeShared(wait=0.5)
    grant = await p.acquire(8_000_001, background=False)
    assert (grant, shared.reported) == (2, [1])  # the first given up unused, the second taken
    await p.release(grant)
    assert shared.reported == [1, 2]
