"""The outbox service against a migrated database of each engine, with time passed in as `now`."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.db import transaction, vault_of
from bot.engine import IntegrityError
from bot.services import outbox
from bot.storage import outbox as store
from tests.conftest import SECRET_KEY

# Tuesday 24 November 2026, 10:00 WIB.
NOON = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 21:30 WIB
NIGHT = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 02:00 WIB on the 25th
MORNING = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 WIB on the 25th


@pytest.fixture
def db(engine_db):
    """Every test of the outbox runs on both engines."""
    return engine_db


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
    with pytest.raises(IntegrityError):
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


async def test_a_batch_queues_each_key_once_in_order_and_its_reminders_to_blocked_chats_done(db):
    """enqueue_many writes a batch in a few statements (one on PostgreSQL): a key already
    queued or twice in the batch counts once, the rows keep the batch's order, each message
    has its own text, buttons and plan, and a reminder to a blocked chat is born blocked and
    cut loose from the chat, as `enqueue` does one at a time."""
    await _queue(db, "old", chat_id=100)
    await _queue(db, "blocker", chat_id=300, kind="reply")
    [first] = await outbox.claim_due(db, now=NOON, limit=1, quiet=None)
    await outbox.mark_sent(db, first.id, 1, NOON)
    [blocker] = await outbox.claim_due(db, now=NOON, limit=1)
    await outbox.mark_blocked(db, blocker.id, 300, NOON)
    ref = vault_of(db).ref("ana")
    about = ("teen", ref, 300, date(2026, 12, 15))
    to_blocked = outbox.reminder_key(vault_of(db), *about)
    batch = [
        outbox.Planned("b:2", 200, "reply", "<b>two</b>", '{"inline_keyboard": []}'),
        outbox.Planned("old", 100, "reminder", "again"),
        outbox.Planned("b:1", 100, "staff", "<b>one</b>"),
        outbox.Planned("b:2", 200, "reply", "twice in the batch"),
        outbox.Planned(to_blocked, 300, "reminder", "Dear Ana", plan=outbox.reminder_plan(*about)),
        outbox.Planned("b:3", 100, "broadcast", "<b>three</b>"),
    ]
    assert await outbox.enqueue_many(db, batch, now=EVENING) == 4
    rows = await db.execute_fetchall("SELECT idempotency_key FROM outbox ORDER BY id")
    assert [key for (key,) in rows] == ["old", "blocker", "b:2", "b:1", to_blocked, "b:3"]
    two, one, three = [await _message(db, key) for key in ("b:2", "b:1", "b:3")]
    assert (two.text, two.reply_markup_json, two.state) == (
        "<b>two</b>",
        '{"inline_keyboard": []}',
        "queued",
    )
    assert (one.text, one.chat_id, one.not_before) == ("<b>one</b>", 100, EVENING)
    assert (three.text, three.not_before) == ("<b>three</b>", MORNING)  # held in quiet hours
    born_blocked = await _message(db, to_blocked)
    assert (born_blocked.state, born_blocked.chat_id, born_blocked.text) == ("blocked", 0, "-")
    assert (born_blocked.error, born_blocked.not_before) == (
        "chat blocked the bot",
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert await _plans(db) == [f"{ref.hex()}:teen:300:2026-12-15"]
    assert await outbox.enqueue_many(db, batch, now=EVENING) == 0
    assert await outbox.enqueue_many(db, [], now=EVENING) == 0


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


async def _remind(db, chat_id, ref, *, due=date(2026, 12, 15), kind="teen"):
    """A reminder about the resident of lookup hash `ref` to the chat, keyed as planners do."""
    about = (kind, ref, chat_id, due)
    key = outbox.reminder_key(vault_of(db), *about)
    plan = outbox.reminder_plan(*about)
    assert await _queue(db, key, chat_id=chat_id, plan=plan)
    return key


async def _send_all(db, now=NOON):
    for message in await outbox.claim_due(db, now=now, limit=100, quiet=None):
        await outbox.mark_sent(db, message.id, 5, now)


async def _plans(db):
    rows = await db.execute_fetchall(
        "SELECT plan, idempotency_key FROM outbox WHERE plan IS NOT NULL"
    )
    return sorted(vault_of(db).open(plan, store.PLAN, key) for plan, key in rows)


async def test_withdraw_about_takes_only_the_chats_queued_reminders_about_those_residents(db):
    ana, budi = vault_of(db).ref("ana"), vault_of(db).ref("budi")
    about_ana = await _remind(db, 100, ana)
    about_budi = await _remind(db, 100, budi)
    elsewhere = await _remind(db, 200, ana)
    await _queue(db, "plain", chat_id=100)
    async with transaction(db):
        assert await outbox.withdraw_about(db, 100, [ana], now=NOON) == 1
        assert await outbox.withdraw_about(db, 100, [], now=NOON) == 0
    states = {key: (await _message(db, key)).state for key in (about_budi, elsewhere, "plain")}
    assert states == {about_budi: "queued", elsewhere: "queued", "plain": "queued"}
    withdrawn = await _message(db, about_ana)  # done: cut loose from the chat, its day blurred
    assert (withdrawn.state, withdrawn.chat_id, withdrawn.text) == ("withdrawn", 0, "-")
    assert withdrawn.not_before == datetime(2026, 11, 1, tzinfo=UTC)


async def test_a_delivered_reminder_keeps_its_key_but_not_its_chat_text_nor_day(db):
    ref = vault_of(db).ref("ana")
    key = await _remind(db, 100, ref)
    await _send_all(db)
    sent = await _message(db, key)
    assert (sent.state, sent.chat_id, sent.text, sent.reply_markup_json) == ("sent", 0, "-", None)
    assert sent.not_before == datetime(2026, 11, 1, tzinfo=UTC)
    assert await _remind_again(db, 100, ref) is False  # planning it again stays a no-op


async def _remind_again(db, chat_id, ref):
    about = ("teen", ref, chat_id, date(2026, 12, 15))
    key = outbox.reminder_key(vault_of(db), *about)
    return await _queue(db, key, chat_id=chat_id, plan=outbox.reminder_plan(*about))


async def test_forgetting_a_chat_finds_its_delivered_reminders_by_their_sealed_plan(db):
    ref = vault_of(db).ref("ana")
    for chat in (42, 4242, -42):
        await _remind(db, chat, ref)
    await _queue(db, "reply:42:1", chat_id=42, kind="reply")
    await _send_all(db)
    await _queue(db, "reply:42:2", chat_id=42, kind="reply")
    async with transaction(db):
        await outbox.forget_chat(db, 42, now=NOON)
    assert await _plans(db) == [
        f"{ref.hex()}:teen:-42:2026-12-15",
        f"{ref.hex()}:teen:4242:2026-12-15",
    ]
    rows = await db.execute_fetchall("SELECT id, idempotency_key, state FROM outbox ORDER BY id")
    erased = {key: state for message_id, key, state in rows if ":erased:" in key}
    assert sorted(erased.values()) == ["sent", "sent", "withdrawn"]
    for message_id, key, _state in rows:
        if ":erased:" in key:
            assert key == f"{key.partition(':')[0]}:erased:{message_id}"
            assert (await store.get_message(db, message_id)).text == "-"


async def test_postgresql_never_sees_the_clear_text_of_a_message(pg_cluster, pg_migrated_url):
    """The text and plan are sealed in the bot: neither the statements the server logs (with
    their parameters), nor its table files, nor its WAL hold the resident's name or hash."""
    from bot import postgres

    name = "Siti Wulandari Prameswari"
    db = await postgres.connect(pg_migrated_url, SECRET_KEY)
    try:
        await db.execute("SET log_statement = 'all'")
        ref = vault_of(db).ref("3505104708090003")
        about = ("teen", ref, 100, date(2026, 12, 15))
        key = outbox.reminder_key(vault_of(db), *about)
        text = f"Pengingat untuk <b>{name}</b>"
        await outbox.enqueue(
            db, key=key, chat_id=100, kind="reminder", text=text, now=NOON,
            plan=outbox.reminder_plan(*about),
        )  # fmt: skip
        [claimed] = await outbox.claim_due(db, now=NOON, limit=1)
        assert claimed.text == text  # opened in the bot
        await db.execute("CHECKPOINT")
    finally:
        await db.close()
    secrets, seen, holding = (name.encode(), ref.hex().encode()), [], []
    for path, content in pg_cluster.files():
        seen.append(path.name)
        holding += [path for secret in secrets if secret in content]
    assert "server.log" in seen
    assert holding == []
