"""The outbox sender: end to end with a real telegram.Bot against the local Bot API server, its
outbox on each engine."""

import asyncio
import json
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot, Message
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.jobs.sender import MAX_BACKOFF, backoff, send_batch, send_due
from bot.ratelimit import Pacer
from bot.services import outbox
from bot.storage import outbox as store
from tests.conftest import TOKEN

NOON = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 WIB
EVENING = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 21:30 WIB
MORNING = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 WIB
BOOK_BUTTON = {"inline_keyboard": [[{"text": "Pesan jadwal", "callback_data": "book:start"}]]}


@pytest.fixture
def db(engine_db):
    """Every test of the sender runs on both engines."""
    return engine_db


@pytest.fixture
async def bot(botapi):
    async with Bot(TOKEN, base_url=botapi.base_url) as bot:
        yield bot


async def _queue(db, key, chat_id, *, kind="reminder", now=NOON, text=None, markup=None):
    return await outbox.enqueue(
        db,
        key=key,
        chat_id=chat_id,
        kind=kind,
        text=text or f"Pengingat <b>{key}</b>",
        reply_markup_json=json.dumps(markup) if markup else None,
        now=now,
    )


async def _state(db, key):
    message = await store.get_message_by_key(db, key)
    assert message is not None
    return message


def _take_refusals(botapi, description):
    """Remove (and count) the refusals a test provoked on purpose; others still fail it."""
    expected = [e for e in botapi.errors if e.description == description]
    botapi.errors[:] = [e for e in botapi.errors if e.description != description]
    return len(expected)


async def test_queued_messages_arrive_as_html_with_their_buttons(db, botapi, bot):
    alice, bob = botapi.user(501, "Alice"), botapi.user(502, "Bob")
    await _queue(db, "r:alice", alice.id, markup=BOOK_BUTTON)
    await _queue(db, "r:bob", bob.id, text="Jadwal <i>besok</i> &amp; lusa")

    assert await send_due(bot, db, now=NOON) == 2

    to_alice = await alice.next_message()
    assert to_alice.html == "Pengingat <b>r:alice</b>"
    assert to_alice.raw["parse_mode"] == "HTML"
    assert to_alice.buttons == [("Pesan jadwal", "book:start")]
    assert (await bob.next_message()).text == "Jadwal besok & lusa"
    sent = await _state(db, "r:alice")
    assert (sent.state, sent.telegram_message_id) == ("sent", to_alice.message_id)
    assert await send_due(bot, db, now=NOON) == 0
    await alice.no_message(within=0.1)


async def test_enqueueing_twice_sends_once(db, botapi, bot):
    user = botapi.user(501)
    assert await _queue(db, "deadline:3505:7", user.id) is True
    assert await _queue(db, "deadline:3505:7", user.id) is False
    assert await send_due(bot, db, now=NOON) == 1
    assert await send_due(bot, db, now=NOON + timedelta(hours=1)) == 0
    await user.next_message()
    await user.no_message(within=0.1)


async def test_a_blocked_chat_is_written_to_no_more(db, botapi, bot):
    blocker, other = botapi.user(501), botapi.user(502)
    blocker.block()
    await _queue(db, "r:1", blocker.id)
    await _queue(db, "r:2", blocker.id)  # same sweep: not even tried
    await _queue(db, "r:other", other.id)

    assert await send_due(bot, db, now=NOON) == 1
    assert (await other.next_message()).html == "Pengingat <b>r:other</b>"
    assert [(await _state(db, k)).state for k in ("r:1", "r:2")] == ["blocked", "blocked"]
    assert _take_refusals(botapi, "Forbidden: bot was blocked by the user") == 1

    blocker.unblock()  # Telegram would deliver now, but we do not know until they write
    await _queue(db, "r:3", blocker.id)
    assert (await _state(db, "r:3")).state == "blocked"
    assert await send_due(bot, db, now=NOON) == 0
    await blocker.no_message(within=0.1)

    await outbox.unblock_chat(db, blocker.id)  # they wrote to the bot again
    await _queue(db, "r:4", blocker.id)
    assert await send_due(bot, db, now=NOON) == 1
    assert (await blocker.next_message()).html == "Pengingat <b>r:4</b>"
    assert await outbox.delivery_report(db, "r:") == {
        "queued": 0,
        "sending": 0,
        "sent": 2,
        "blocked": 3,
        "failed": 0,
        "withdrawn": 0,
    }


async def test_quiet_hours_hold_a_reminder_but_not_a_staff_message(db, botapi, bot):
    citizen, staff = botapi.user(501), botapi.user(9001)
    await _queue(db, "reminder", citizen.id, now=EVENING)
    await _queue(db, "staff", staff.id, kind="staff", now=EVENING)

    assert await send_due(bot, db, now=EVENING) == 1
    assert (await staff.next_message()).html == "Pengingat <b>staff</b>"
    await citizen.no_message(within=0.1)

    assert await send_due(bot, db, now=MORNING) == 1
    assert (await citizen.next_message()).html == "Pengingat <b>reminder</b>"


async def test_a_crash_loses_no_queued_message(db, botapi, bot):
    users = [botapi.user(600 + n) for n in range(6)]
    for user in users:
        await _queue(db, f"b:{user.id}", user.id, kind="broadcast")
    assert await send_due(bot, db, now=NOON, limit=2) == 2
    in_flight = await outbox.claim_due(db, now=NOON, limit=2)  # claimed; the process dies here
    await bot.send_message(in_flight[0].chat_id, in_flight[0].text, parse_mode="HTML")

    assert await outbox.requeue_in_flight(db) == 2  # start-up
    assert await send_due(bot, db, now=NOON) == 4

    received = {user.id: len(user.inbox) for user in users}
    assert received == {u.id: 2 if u.id == in_flight[0].chat_id else 1 for u in users}
    report = await outbox.delivery_report(db, "b:")
    assert report["sent"] == len(users)


async def test_an_invalid_message_fails_with_telegrams_reason(db, botapi, bot):
    user = botapi.user(501)
    await _queue(db, "broken", user.id, text="<b>unclosed")
    await _queue(db, "nobody", 999_999)
    assert await send_due(bot, db, now=NOON) == 0
    broken, nobody = await _state(db, "broken"), await _state(db, "nobody")
    assert (broken.state, nobody.state) == ("failed", "failed")
    assert broken.error is not None
    assert broken.error.startswith("Can't parse entities")
    assert nobody.error == "Chat not found"
    assert _take_refusals(botapi, "Bad Request: chat not found") == 1
    assert len(botapi.errors) == 1  # the unparsable HTML
    botapi.errors.clear()


class FlakyBot:
    """A hand-written stand-in for telegram.Bot: raises the scripted errors, then delivers."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    async def send_message(self, chat_id, text, *, parse_mode=None, reply_markup=None):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return Message.de_json(
            {"message_id": 7, "date": 0, "chat": {"id": chat_id, "type": "private"}}, None
        )


def _flood(seconds):
    """A 429 as PTB's request layer raises it (its constructor warns about int periods)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return RetryAfter(seconds)


async def test_flood_control_waits_for_retry_after(db):
    await _queue(db, "a", 501)
    flaky = FlakyBot(_flood(17))
    assert await send_due(flaky, db, now=NOON) == 0
    waiting = await _state(db, "a")
    assert (waiting.state, waiting.not_before) == ("queued", NOON + timedelta(seconds=17))
    assert await send_due(flaky, db, now=NOON + timedelta(seconds=16)) == 0
    assert await send_due(flaky, db, now=NOON + timedelta(seconds=17)) == 1
    assert (await _state(db, "a")).telegram_message_id == 7


async def test_network_errors_back_off_exponentially_then_fail(db):
    await _queue(db, "a", 501)
    attempts = outbox.MAX_ATTEMPTS
    errors = (NetworkError("Bad Gateway") if n % 2 else TimedOut() for n in range(attempts))
    flaky = FlakyBot(*errors)
    now = NOON
    for attempt in range(1, attempts):
        assert await send_due(flaky, db, now=now) == 0
        message = await _state(db, "a")
        assert message.not_before == now + min(timedelta(seconds=2**attempt), MAX_BACKOFF)
        now = message.not_before
    assert await send_due(flaky, db, now=now) == 0
    failed = await _state(db, "a")
    assert failed.state == "failed"
    assert failed.error == f"gave up after {attempts} attempts: Bad Gateway"
    assert flaky.calls == attempts


async def test_a_bad_request_is_not_retried(db):
    await _queue(db, "a", 501)
    flaky = FlakyBot(BadRequest("Message is too long"))
    assert await send_due(flaky, db, now=NOON) == 0
    assert await send_due(flaky, db, now=NOON + timedelta(days=1)) == 0
    assert ((await _state(db, "a")).state, flaky.calls) == ("failed", 1)


def test_backoff_doubles():
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [2, 4, 8, 16, 32, 60, 60, 60]


async def test_a_stop_while_the_pacer_holds_the_batch_puts_it_back_untried(db, botapi, bot):
    alice = botapi.user(501)
    await _queue(db, "r:alice", alice.id)
    waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the pacer's wait, which never ends here
        waiting.set()
        await asyncio.Event().wait()

    pacer = Pacer(0, sleep=sleep)
    for chat_id in (1, 2, 3):  # 429s for three chats: the whole outbox pauses an hour
        pacer.flooded(chat_id, 3600)
    stopping = asyncio.Event()
    batch = asyncio.create_task(
        send_batch(bot, db, now=NOON, limit=10, pacer=pacer, quiet=None, stopping=stopping)
    )
    await waiting.wait()
    stopping.set()

    assert await batch == (1, 0)
    message = await _state(db, "r:alice")
    assert (message.state, message.attempts, message.not_before) == ("queued", 0, NOON)
    assert alice.inbox == []
