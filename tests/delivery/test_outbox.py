"""The outbox service against a migrated database, with time passed in as `now`."""

import sqlite3
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.services import outbox
from bot.storage import outbox as store

# Tuesday 24 November 2026, 10:00 WIB.
NOON = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 21:30 WIB
NIGHT = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 02:00 WIB on the 25th
MORNING = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 WIB on the 25th


async def _queue(db, key, *, chat_id=100, kind="reminder", now=NOON, **extra):
    return await outbox.enqueue(
        db, key=key, chat_id=chat_id, kind=kind, text=f"<b>{key}</b>", now=now, **extra
    )


async def _message(db, key):
    message = await store.get_message_by_key(db, key)
    assert message is not None
    return message


async def test_enqueue_is_idempotent(db):
    assert await _queue(db, "r:1") is True
    assert await _queue(db, "r:1", now=NOON + timedelta(hours=1)) is False
    assert [m.key for m in await outbox.claim_due(db, now=NOON, limit=10)] == ["r:1"]
    assert await outbox.claim_due(db, now=NOON, limit=10) == []


async def test_unknown_kind_is_refused(db):
    with pytest.raises(ValueError, match="kind"):
        await _queue(db, "x", kind="spam")


async def test_invalid_markup_json_is_refused_by_the_database(db):
    with pytest.raises(sqlite3.IntegrityError):
        await _queue(db, "x", reply_markup_json="{not json")


@pytest.mark.parametrize(
    ("now", "held_until"),
    [
        (NOON, None),
        (EVENING, MORNING),
        (NIGHT, MORNING),
        (datetime(2026, 11, 24, 12, 59, tzinfo=UTC), None),  # 19:59 WIB
        (datetime(2026, 11, 24, 13, 0, tzinfo=UTC), MORNING),  # 20:00 WIB
        (MORNING, None),  # 07:00 WIB: quiet hours are over
    ],
)
def test_quiet_hours_end(now, held_until):
    assert outbox.quiet_hours_end(now) == held_until


def test_quiet_hours_that_do_not_wrap_midnight():
    quiet = (time(12, 0), time(13, 0))
    assert outbox.quiet_hours_end(NOON + timedelta(hours=2, minutes=30), quiet) == datetime(
        2026, 11, 24, 6, 0, tzinfo=UTC
    )
    assert outbox.quiet_hours_end(NOON, quiet) is None


@pytest.mark.parametrize("kind", ["reminder", "broadcast"])
async def test_reminders_and_broadcasts_wait_for_the_morning(db, kind):
    await _queue(db, "held", kind=kind, now=EVENING)
    assert (await _message(db, "held")).not_before == MORNING
    assert await outbox.claim_due(db, now=MORNING - timedelta(seconds=1), limit=10) == []
    assert [m.key for m in await outbox.claim_due(db, now=MORNING, limit=10)] == ["held"]


@pytest.mark.parametrize("kind", ["staff", "reply"])
async def test_staff_messages_and_replies_are_never_held(db, kind):
    await _queue(db, "now", kind=kind, now=NIGHT)
    assert [m.key for m in await outbox.claim_due(db, now=NIGHT, limit=10)] == ["now"]


async def test_claim_takes_the_oldest_due_first_and_respects_the_limit(db):
    for n in range(5):
        await _queue(db, f"k{n}", chat_id=100 + n, now=NOON + timedelta(seconds=n))
    first = await outbox.claim_due(db, now=NOON + timedelta(minutes=1), limit=3)
    assert [(m.key, m.state, m.attempts) for m in first] == [
        ("k0", "sending", 1),
        ("k1", "sending", 1),
        ("k2", "sending", 1),
    ]
    rest = await outbox.claim_due(db, now=NOON + timedelta(minutes=1), limit=3)
    assert [m.key for m in rest] == ["k3", "k4"]


async def test_requeue_in_flight_puts_claimed_messages_back(db):
    await _queue(db, "a")
    await _queue(db, "b")
    claimed = await outbox.claim_due(db, now=NOON, limit=1)
    await outbox.mark_sent(db, claimed[0].id, 77, NOON)
    await outbox.claim_due(db, now=NOON, limit=1)  # "b" is in flight when the process dies
    assert await outbox.requeue_in_flight(db) == 1
    again = await outbox.claim_due(db, now=NOON, limit=10)
    assert [(m.key, m.attempts) for m in again] == [("b", 2)]


async def test_mark_sent_records_telegram_message_id(db):
    await _queue(db, "a")
    [message] = await outbox.claim_due(db, now=NOON, limit=1)
    await outbox.mark_sent(db, message.id, 42, NOON)
    sent = await _message(db, "a")
    assert (sent.state, sent.telegram_message_id) == ("sent", 42)


async def test_retry_backs_off_then_fails_after_max_attempts(db):
    await _queue(db, "a")
    now = NOON
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        [message] = await outbox.claim_due(db, now=now, limit=1)
        assert message.attempts == attempt
        delay = timedelta(seconds=2**attempt)
        state = await outbox.mark_retry(db, message.id, now=now, delay=delay, error="timeout")
        assert state == "queued"
        assert await outbox.claim_due(db, now=now + delay - timedelta(seconds=1), limit=1) == []
        now += delay
    [message] = await outbox.claim_due(db, now=now, limit=1)
    state = await outbox.mark_retry(db, message.id, now=now, delay=timedelta(1), error="timeout")
    assert state == "failed"
    failed = await _message(db, "a")
    assert failed.state == "failed"
    assert failed.error == f"gave up after {outbox.MAX_ATTEMPTS} attempts: timeout"


async def test_blocked_chat_closes_its_queue_and_new_messages_are_born_blocked(db):
    await _queue(db, "a", chat_id=100)
    await _queue(db, "b", chat_id=100)
    await _queue(db, "other", chat_id=200)
    [first] = await outbox.claim_due(db, now=NOON, limit=1)
    await outbox.mark_blocked(db, first.id, 100, NOON)
    assert (await _message(db, "b")).state == "blocked"
    assert await _queue(db, "c", chat_id=100) is True
    assert (await _message(db, "c")).state == "blocked"
    assert [m.key for m in await outbox.claim_due(db, now=NOON, limit=10)] == ["other"]

    assert await outbox.unblock_chat(db, 100) is True
    assert await outbox.unblock_chat(db, 100) is False
    await _queue(db, "d", chat_id=100)
    assert [m.key for m in await outbox.claim_due(db, now=NOON, limit=10)] == ["d"]
    assert (await _message(db, "c")).state == "blocked"  # what was closed stays closed


async def test_delivery_report_counts_states_of_one_prefix(db):
    for n in range(4):
        await _queue(db, f"broadcast:7:{n}", chat_id=100 + n, kind="broadcast")
    await _queue(db, "broadcast:70:0", chat_id=100, kind="broadcast")
    claimed = await outbox.claim_due(db, now=NOON, limit=3)
    await outbox.mark_sent(db, claimed[0].id, 1, NOON)
    await outbox.mark_blocked(db, claimed[1].id, claimed[1].chat_id, NOON)
    await outbox.mark_failed(db, claimed[2].id, "Bad Request: chat not found", NOON)
    assert await outbox.delivery_report(db, "broadcast:7:") == {
        "queued": 1,
        "sending": 0,
        "sent": 1,
        "blocked": 1,
        "failed": 1,
        "withdrawn": 0,
    }
    assert sum((await outbox.delivery_report(db, "broadcast:")).values()) == 5
    assert sum((await outbox.delivery_report(db, "broadcast%")).values()) == 0
