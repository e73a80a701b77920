"""The delivery engine against a misbehaving Telegram: nothing lost, nothing sent twice.

The outage tests drive simulated time: `send_due` is called again and again with a fake `now`
moving in one-second steps (retry backoff and retry_after are computed from `now`, so nobody
waits for real). The end-to-end tests run the real bot with its sender loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot

from bot.jobs.sender import send_due
from bot.services import outbox
from bot.storage import outbox as store
from botapi import BotApiServer, SimUser
from tests.conftest import NOW, TOKEN

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 WIB, outside quiet hours
STEP = timedelta(seconds=1)
FORBIDDEN = "Forbidden: bot was blocked by the user"


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch):
    """PTB's RetryAfter warns in its constructor about int periods unless opted in to timedelta.

    Every real 429 goes through that constructor; the sender reads either form.
    """
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def settings(settings):
    """The running bot paces at Telegram's 30 messages/second here (behaviour tests use 0)."""
    return dataclasses.replace(settings, send_rate=30)


@pytest.fixture
async def bot(botapi):
    async with Bot(TOKEN, base_url=botapi.base_url) as tg_bot:
        yield tg_bot


def broadcast_text(number: int) -> str:
    return f"<b>Perekaman keliling</b> di balai desa, siaran {number}"


async def plan_broadcast(db, number: int, users: list[SimUser], *, now=T0) -> int:
    planned = [
        outbox.Planned(
            f"broadcast:{number}:{user.id}", user.id, "broadcast", broadcast_text(number)
        )
        for user in users
    ]
    return await outbox.enqueue_many(db, planned, now=now, quiet=None)


async def open_messages(db) -> int:
    """Messages not yet in a final state."""
    async with db.execute(
        "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"
    ) as cursor:
        (count,) = await cursor.fetchone()
    return count


async def rows(db, key_prefix: str) -> list[tuple]:
    async with db.execute(
        "SELECT chat_id, state, telegram_message_id, error, attempts FROM outbox"
        " WHERE idempotency_key LIKE ? ORDER BY chat_id",
        (f"{key_prefix}%",),
    ) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


def take_refusals(botapi: BotApiServer, description: str) -> int:
    """Remove (and count) the refusals a test provoked on purpose; others still fail it."""
    expected = [e for e in botapi.errors if description in e.description]
    botapi.errors[:] = [e for e in botapi.errors if description not in e.description]
    return len(expected)


async def drive(bot, db, *, until, outage=None, limit=10):
    """Call send_due each simulated second until nothing is open; return the simulated end."""
    now = T0
    while await open_messages(db):
        assert now < until, f"messages still open at {now - T0}: {await open_messages(db)}"
        if outage is not None:
            outage(now - T0)
        await send_due(bot, db, now=now, limit=limit, quiet=None)
        now += STEP
    return now - T0


async def test_429_403_dropped_connections_5xx_and_a_minute_down_lose_and_double_nothing(
    db, botapi, bot
):
    people = [botapi.user(7000 + n) for n in range(50)]
    blockers = people[:5]
    for person in blockers:
        person.block()
    assert await plan_broadcast(db, 1, people) == 50
    await outbox.enqueue(
        db, key="reply:broken", chat_id=people[5].id, kind="reply", text="<b>tak ditutup", now=T0
    )
    botapi.faults.flood(retry_after=3, times=2)
    botapi.faults.drop_connections(times=3)
    botapi.faults.server_error(times=2, status=502)
    botapi.faults.server_error(times=1, status=500)

    def outage(elapsed: timedelta) -> None:
        if elapsed == timedelta(seconds=3):
            botapi.faults.down()
        if elapsed == timedelta(seconds=63):  # down for a minute
            botapi.faults.up()

    took = await drive(bot, db, until=T0 + timedelta(minutes=10), outage=outage)

    assert botapi.faults.injected == {"Flood": 2, "Drop": 3, "ServerError": 3}
    assert took > timedelta(seconds=63), "the outage held messages back"
    received = botapi.send_counts()
    reachable = people[5:]
    assert {p.id: received.get(p.id, 0) for p in reachable} == {p.id: 1 for p in reachable}
    assert all(p.id not in received for p in blockers)
    broadcast = await rows(db, "broadcast:1:")
    assert Counter(state for _, state, *_ in broadcast) == {"sent": 45, "blocked": 5}
    for chat_id, state, message_id, error, _ in broadcast:
        if state == "sent":
            assert message_id == botapi.sim.chats[chat_id].inbox[0].message_id
        else:
            assert error == "chat blocked the bot"
    [(_, state, _, error, _)] = await rows(db, "reply:broken")
    assert state == "failed"
    assert "can't parse entities" in error.lower()
    assert max(attempts for *_, attempts in broadcast) <= outbox.MAX_ATTEMPTS
    assert take_refusals(botapi, FORBIDDEN) == 5
    assert take_refusals(botapi, "can't parse entities") == 1


async def test_an_outage_longer_than_the_retries_fails_each_message_with_its_reason(
    db, botapi, bot
):
    people = [botapi.user(7100 + n) for n in range(12)]
    await plan_broadcast(db, 2, people)
    botapi.faults.down()

    await drive(bot, db, until=T0 + timedelta(minutes=15))

    broadcast = await rows(db, "broadcast:2:")
    assert {state for _, state, *_ in broadcast} == {"failed"}
    for *_, error, attempts in broadcast:
        assert attempts == outbox.MAX_ATTEMPTS
        assert error.startswith(f"gave up after {outbox.MAX_ATTEMPTS} attempts: ")
        assert "disconnected" in error
    assert botapi.send_counts() == {}


async def test_flood_control_requeues_after_retry_after_and_delivers_once(db, botapi, bot):
    people = [botapi.user(7200 + n) for n in range(20)]
    await plan_broadcast(db, 3, people)
    botapi.faults.flood(retry_after=7, times=20)

    assert await send_due(bot, db, now=T0, limit=20, quiet=None) == 0
    for second in range(1, 7):  # retry_after not over: nothing is tried
        assert await send_due(bot, db, now=T0 + second * STEP, limit=20, quiet=None) == 0
    assert botapi.faults.pending == 0
    assert botapi.send_counts() == {}
    assert await send_due(bot, db, now=T0 + 7 * STEP, limit=20, quiet=None) == 20
    assert botapi.send_counts() == {p.id: 1 for p in people}
    assert await open_messages(db) == 0


# ----- end to end: the running bot's sender loop -----


async def wait_for(condition, *, within: float = 5.0, what: str = "condition"):
    """Poll `condition` (an async callable) until it is truthy; fail after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            # the state is written by the bot's own tasks: there is no event to wait on
            while not (result := await condition()):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
    return result


async def state_of(db, key: str) -> str | None:
    message = await store.get_message_by_key(db, key)
    return message.state if message else None


async def plan_one(app, key: str, chat_id: int, text: str) -> None:
    db = app.bot_data["db"]
    await outbox.enqueue(db, key=key, chat_id=chat_id, kind="broadcast", text=text, now=NOW)
    app.bot_data["sender"].wake()


async def test_a_chat_that_blocked_the_bot_gets_nothing_until_it_writes_again(running_bot, botapi):
    db = running_bot.bot_data["db"]
    citizen = botapi.user(3101, "Sari")
    citizen.block()
    await plan_one(running_bot, "broadcast:901:3101", citizen.id, "Siaran pertama")
    await wait_for(lambda: _is(db, "broadcast:901:3101", "blocked"), what="the 403 to be recorded")
    assert take_refusals(botapi, FORBIDDEN) == 1

    citizen.unblock()  # Telegram would deliver again, but the bot cannot know that yet
    await plan_one(running_bot, "broadcast:902:3101", citizen.id, "Siaran kedua")
    assert await state_of(db, "broadcast:902:3101") == "blocked"
    assert citizen.id not in botapi.send_counts()

    citizen.send_text("/start")  # they write to the bot again
    assert "Selamat datang" in (await citizen.next_message()).text
    await plan_one(running_bot, "broadcast:903:3101", citizen.id, "Siaran ketiga")
    assert (await citizen.next_message()).text == "Siaran ketiga"
    await wait_for(lambda: _is(db, "broadcast:903:3101", "sent"), what="the outcome")
    assert [await state_of(db, f"broadcast:90{n}:3101") for n in (1, 2)] == ["blocked"] * 2
    assert botapi.errors == []


async def _is(db, key: str, state: str) -> bool:
    return await state_of(db, key) == state


async def test_a_button_press_during_a_large_broadcast_is_answered_within_a_second(
    running_bot, botapi
):
    assert running_bot.bot_data["settings"].send_rate == 30
    botapi.faults.enforce_limits(per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    citizen = botapi.user(3201, "Budi")
    citizen.send_text("/start")
    menu = await citizen.next_message()
    audience = [botapi.user(800_000 + n) for n in range(3000)]
    db = running_bot.bot_data["db"]
    await plan_broadcast(db, 4, audience, now=NOW)
    running_bot.bot_data["sender"].wake()

    def broadcast_moments() -> list[float]:
        return sorted(t for user in audience for t in botapi.received.get(user.id, []))

    await wait_for(lambda: _at_least(broadcast_moments, 60), within=10, what="the broadcast to run")
    pressed = time.monotonic()
    citizen.press(menu, "menu:bantuan")
    answer = await citizen.next_message()
    answered = botapi.received[citizen.id][-1]
    await wait_for(
        lambda: _at_least(lambda: [t for t in broadcast_moments() if t > answered], 15),
        within=5,
        what="the broadcast to go on",
    )

    assert answer.text.startswith("Bantuan")
    latency = answered - pressed
    moments = broadcast_moments()
    busy_before = [t for t in moments if pressed - 1.0 <= t < pressed]
    assert len(busy_before) >= 20, f"the sender was not busy: {len(busy_before)} in the last second"
    assert latency < 1.0, f"the answer took {latency:.3f} s during the broadcast"
    assert botapi.flood_count == 0
    report = await outbox.delivery_report(db, "broadcast:4:")
    assert report["queued"] > 2000, "the broadcast was still under way"


async def _at_least(moments, count: int) -> bool:
    return len(moments()) >= count
