"""Fault injection and Telegram's sending limits in the local Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.ratelimit import retry_after_seconds
from botapi import BotApiServer, Faults, SimUser

TOKEN = "123456:TEST-TOKEN"
GROUP_ID = -100500


class FakeMonotonic:
    """The server's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN) as srv:
        yield srv
        assert srv.errors == [], "injected faults are not refusals of invalid calls"


@pytest.fixture
def clock(server: BotApiServer) -> FakeMonotonic:
    fake = FakeMonotonic()
    server.faults = Faults(clock=fake)
    return fake


@pytest.fixture
async def bot(server: BotApiServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url) as tg_bot:
        yield tg_bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@contextlib.contextmanager
def flooded(seconds: int):
    """The call fails with RetryAfter(seconds), whichever way PTB writes the period."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        with pytest.raises(RetryAfter) as raised:
            yield
    assert retry_after_seconds(raised.value) == seconds


def users(server: BotApiServer, count: int) -> list[SimUser]:
    return [server.user(5000 + n) for n in range(count)]


async def send(http: aiohttp.ClientSession, server: BotApiServer, chat_id: int) -> Any:
    """sendMessage by hand: (status, content type, body text)."""
    url = f"{server.base_url.format(token=TOKEN)}/sendMessage"
    async with http.post(url, json={"chat_id": chat_id, "text": "halo"}) as response:
        return response.status, response.content_type, await response.text()


async def test_flood_answers_429_with_retry_after_exactly_like_telegram(server, bot, http):
    user = server.user(501)
    server.faults.flood(retry_after=3, times=2)

    status, content_type, body = await send(http, server, user.id)
    assert (status, content_type) == (429, "application/json")
    assert json.loads(body) == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    with flooded(3):
        await bot.send_message(user.id, "lagi")
    sent = await bot.send_message(user.id, "akhirnya")

    assert [m.message_id for m in user.inbox] == [sent.message_id]
    assert server.faults.injected == {"Flood": 2}
    assert server.flood_count == 0, "scripted floods are not limit hits"


async def test_server_error_answers_a_gateway_page_and_ptb_sees_a_network_error(server, bot, http):
    user = server.user(501)
    server.faults.server_error(times=2, status=503)

    status, content_type, body = await send(http, server, user.id)
    assert (status, content_type) == (503, "text/html")
    assert "503 Service Unavailable" in body
    with pytest.raises(NetworkError, match="Service Unavailable"):
        await bot.send_message(user.id, "lagi")
    await bot.send_message(user.id, "akhirnya")
    assert [m.text for m in user.inbox] == ["akhirnya"]
    with pytest.raises(ValueError, match="not a server error"):
        server.faults.server_error(status=404)


async def test_dropped_connection_has_no_answer_and_delivers_nothing(server, bot):
    user = server.user(501)
    server.faults.drop_connections(times=1)

    with pytest.raises(NetworkError, match="disconnected without sending a response"):
        await bot.send_message(user.id, "hilang")
    await bot.send_message(user.id, "sampai")
    assert [m.text for m in user.inbox] == ["sampai"]
    assert server.send_counts() == {user.id: 1}


async def test_scripted_faults_meet_send_calls_in_order_and_spare_other_methods(server, bot):
    user = server.user(501)
    server.faults.flood(retry_after=1)
    server.faults.drop_connections()
    server.faults.server_error()

    assert (await bot.get_me()).id == 123456  # not a send: no fault consumed
    assert server.faults.pending == 3
    with flooded(1):
        await bot.send_message(user.id, "1")
    with pytest.raises(NetworkError, match="disconnected"):
        await bot.send_message(user.id, "2")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(user.id, "3")
    await bot.send_message(user.id, "4")
    assert [m.text for m in user.inbox] == ["4"]
    assert server.faults.injected == {"Flood": 1, "Drop": 1, "ServerError": 1}


async def test_down_fails_every_request_at_the_connection_level_until_up(server, bot):
    user = server.user(501)
    before = len(server.requests)
    server.faults.down()
    with pytest.raises(NetworkError, match="disconnected"):
        await bot.get_me()
    with pytest.raises(NetworkError, match="disconnected"):
        await bot.send_message(user.id, "hilang")
    assert len(server.requests) == before, "no request got through"

    server.faults.up()
    await bot.send_message(user.id, "sampai")
    assert [m.text for m in user.inbox] == ["sampai"]


async def test_received_moments_and_counts_per_chat(server, bot, clock):
    alice, bob = server.user(501), server.user(502)
    await bot.send_message(alice.id, "1")
    clock.now += 2.5
    await bot.send_message(alice.id, "2")
    await bot.send_message(bob.id, "3")
    message = await bot.send_message(bob.id, "4")
    await bot.edit_message_text("4!", chat_id=bob.id, message_id=message.message_id)

    assert server.send_counts() == {alice.id: 2, bob.id: 2}
    assert server.received == {alice.id: [1000.0, 1002.5], bob.id: [1002.5, 1002.5]}


async def test_limits_off_by_default(server, bot, clock):
    alice = server.user(501)
    for n in range(40):
        await bot.send_message(alice.id, str(n))
    assert server.flood_count == 0
    assert len(alice.inbox) == 40


async def test_one_message_per_second_per_chat(server, bot, clock):
    server.faults.enforce_limits()
    alice, bob = server.user(501), server.user(502)
    await bot.send_message(alice.id, "1")
    clock.now += 0.4
    with flooded(1):
        await bot.send_message(alice.id, "2")
    await bot.send_message(bob.id, "other chats are not held")
    clock.now += 0.6
    await bot.send_message(alice.id, "3")

    assert [m.text for m in alice.inbox] == ["1", "3"]
    assert server.flood_count == 1


async def test_thirty_messages_per_second_overall(server, bot, clock, http):
    server.faults.enforce_limits(per_second=30)
    many = users(server, 31)
    for user in many[:30]:
        await bot.send_message(user.id, "siaran")
        clock.now += 0.01
    clock.now = 1000.5
    status, _, body = await send(http, server, many[30].id)
    assert status == 429
    assert '"retry_after": 1' in body
    assert server.flood_count == 1

    clock.now = 1000.0 + 1.0  # the first send leaves the window
    await bot.send_message(many[30].id, "siaran")
    with flooded(1):  # the window is full again
        await bot.send_message(many[0].id, "lagi")
    assert server.flood_count == 2
    assert sum(server.send_counts().values()) == 31


async def test_twenty_messages_per_minute_per_group_with_the_right_retry_after(
    server, bot, clock, http
):
    server.faults.enforce_limits()
    group = server.group(GROUP_ID)
    for _ in range(20):
        await bot.send_message(group.id, "laporan")
        clock.now += 1.5
    clock.now = 1040.0
    status, _, body = await send(http, server, group.id)
    assert status == 429
    assert '"retry_after": 20' in body  # the first of the 20 leaves the window at 1060
    clock.now = 1060.0
    await bot.send_message(group.id, "laporan")
    assert len(group.inbox) == 21
    assert server.flood_count == 1


async def test_refused_sends_do_not_use_up_the_window(server, bot, clock):
    server.faults.enforce_limits(per_second=2)
    a, b, c = users(server, 3)
    await bot.send_message(a.id, "1")
    for _ in range(5):
        with flooded(1):
            await bot.send_message(a.id, "again")  # per chat
    await bot.send_message(b.id, "2")
    with flooded(1):
        await bot.send_message(c.id, "3")  # overall
    clock.now += 1.0
    await bot.send_message(c.id, "3")
    assert server.flood_count == 6
    assert server.send_counts() == {a.id: 1, b.id: 1, c.id: 1}


async def test_clear_forgets_faults_and_limits(server, bot, clock):
    user = server.user(501)
    server.faults.enforce_limits()
    server.faults.flood(times=5)
    server.faults.down()
    server.faults.clear()
    await bot.send_message(user.id, "1")
    await bot.send_message(user.id, "2")
    assert len(user.inbox) == 2


async def test_held_answers_deliver_the_message_and_keep_the_bot_waiting_until_release(server, bot):
    alice, bob = server.user(501), server.user(502)
    server.faults.hold_answers(after=1)
    first = await bot.send_message(alice.id, "1")  # answered
    waiting = [asyncio.create_task(bot.send_message(chat.id, "2")) for chat in (alice, bob)]
    await alice.next_message()
    await bob.next_message()

    assert [m.text for m in alice.inbox] == ["1", "2"]
    assert [m.text for m in bob.inbox] == ["2"], "delivered before it is answered"
    assert sorted(server.faults.withheld) == [alice.id, bob.id]
    assert not any(task.done() for task in waiting)

    server.faults.release()
    answers = await asyncio.gather(*waiting)
    assert [m.message_id for m in answers] == [alice.inbox[1].message_id, bob.inbox[0].message_id]
    assert first.message_id == alice.inbox[0].message_id
    await bot.send_message(bob.id, "3")  # answered at once again
    assert sorted(server.faults.withheld) == [alice.id, bob.id]
    assert server.send_counts() == {alice.id: 2, bob.id: 2}
    assert server.faults.accepted_sends == 4
