"""The delivery engine's bookkeeping: every notification goes through the outbox.

A message is planned once per idempotency key (planning it again is a no-op), waits for its
`not_before` (quiet hours, retry backoff), is claimed as 'sending' by the sender, and ends
'sent', 'blocked' or 'failed'. After a crash, `requeue_in_flight` puts the claimed ones back, so
nothing queued is lost and at most the in-flight messages are sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.config import TIMEZONE
from bot.crypto import Vault
from bot.db import transaction
from bot.engine import Connection
from bot.storage import outbox as store
from bot.storage.outbox import OUTBOX_KINDS, OUTBOX_STATES, PLAN_HASHED, Attachment, OutboxMessage

__all__ = [
    "HELD_IN_QUIET_HOURS",
    "MAX_ATTEMPTS",
    "QUIET_HOURS",
    "Attachment",
    "OutboxMessage",
    "Outcome",
    "Planned",
    "QuietHours",
    "claim_due",
    "count_queued",
    "delivery_report",
    "enqueue",
    "enqueue_many",
    "forget_chat",
    "get_message",
    "mark_blocked",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "queued_span",
    "quiet_hours_end",
    "record_outcomes",
    "reminder_key",
    "reminder_plan",
    "requeue_in_flight",
    "unblock_chat",
    "unblock_chat_if_blocked",
    "withdraw",
    "withdraw_about",
]

MAX_ATTEMPTS = 8  # with backoff capped at a minute: a Bot API outage of ~3 minutes is survived
QuietHours = tuple[time, time] | None  # (start, end) in WIB; None: no quiet hours
QUIET_HOURS: QuietHours = (time(20, 0), time(7, 0))
HELD_IN_QUIET_HOURS = ("reminder", "broadcast")  # staff messages, replies, bookings are not held


@dataclass(frozen=True)
class Outcome:
    """How sending one message ended: sent, blocked, failed, retry after `delay`, or `later`
    (not tried: its chat may not receive before `delay`)."""

    state: str
    telegram_message_id: int | None = None
    error: str = ""
    delay: timedelta = timedelta(0)


@dataclass(frozen=True)
class Planned:
    """A message to plan: sent once per `key`, to `chat_id`, as rendered Telegram HTML."""

    key: str
    chat_id: int
    kind: str
    text: str
    reply_markup_json: str | None = None
    plan: str | None = None  # a reminder about a resident: its reminder_plan
    edit_message_id: int | None = None  # an edit of this Telegram message of the chat
    file: Attachment | None = None  # a photo or document, `text` its caption


def reminder_plan(kind: str, nik_ref: bytes, chat_id: int, due: date) -> str:
    """What one reminder about a resident (by lookup hash) to a chat for a due day stands for;
    stored sealed only (a teen's due day is their birthday)."""
    return f"{nik_ref.hex()}:{kind}:{chat_id}:{due.isoformat()}"


def reminder_key(vault: Vault, kind: str, nik_ref: bytes, chat_id: int, due: date) -> str:
    """The one key of that reminder: `<kind>:<keyed hash of its plan>`, so that the key shows
    no resident, chat nor day, and cannot be matched against guesses without SECRET_KEY (the
    key rotation re-derives it the same way, bot/storage/vault.py)."""
    plan = reminder_plan(kind, nik_ref, chat_id, due)
    return f"{kind}:{vault.ref(PLAN_HASHED + plan).hex()}"


async def enqueue(
    db: Connection,
    *,
    key: str,
    chat_id: int,
    kind: str,
    text: str,
    reply_markup_json: str | None = None,
    now: datetime,
    quiet: QuietHours = QUIET_HOURS,
    plan: str | None = None,
) -> bool:
    """Plan a message once per key; False when the key was already planned."""
    planned = Planned(key, chat_id, kind, text, reply_markup_json, plan)
    return await enqueue_many(db, [planned], now=now, quiet=quiet) == 1


async def enqueue_many(
    db: Connection,
    messages: Iterable[Planned],
    *,
    now: datetime,
    quiet: QuietHours = QUIET_HOURS,
) -> int:
    """Plan messages in one transaction (each once per key); return how many were new."""
    held_until = quiet_hours_end(now, quiet) or now
    rows = [_new_message(message, held_until, now) for message in messages]
    async with transaction(db):
        return await store.insert_messages(db, rows, now=now)


def _new_message(message: Planned, held_until: datetime, now: datetime) -> store.NewMessage:
    if message.kind not in OUTBOX_KINDS:
        raise ValueError(f"unknown outbox kind {message.kind!r}")
    return store.NewMessage(
        key=message.key,
        chat_id=message.chat_id,
        kind=message.kind,
        text=message.text,
        reply_markup_json=message.reply_markup_json,
        not_before=held_until if message.kind in HELD_IN_QUIET_HOURS else now,
        plan=message.plan,
        edit_message_id=message.edit_message_id,
        file=message.file,
    )


async def withdraw(db: Connection, key_prefix: str, *, now: datetime) -> int:
    """Withdraw the queued messages whose key starts with `key_prefix` (call in a transaction)."""
    return await store.withdraw(db, key_prefix, now=now)


async def retract(db: Connection, key_prefix: str, text: str, *, now: datetime) -> list[Planned]:
    """Withdraw the queued messages whose key starts with `key_prefix` and return, for each one
    already sent, an edit of it into `text` without buttons (to plan; its key ends in
    `ended:<message id>`, so it is planned once)."""
    async with transaction(db):
        await store.withdraw(db, key_prefix, now=now)
        sent = await store.sent_messages(db, key_prefix)
    return [
        Planned(
            f"{key_prefix}ended:{message_id}",
            chat_id,
            "booking",
            text,
            None,
            edit_message_id=message_id,
        )
        for chat_id, message_id in sent
    ]


async def withdraw_about(
    db: Connection, chat_id: int, nik_refs: list[bytes], *, now: datetime
) -> int:
    """Withdraw the chat's queued reminders about these residents (call in a transaction)."""
    return await store.withdraw_about(db, chat_id, nik_refs, now=now)


async def forget_chat(db: Connection, chat_id: int, *, now: datetime) -> None:
    """The chat's data is erased: withdraw its queued messages, blank every text and button,
    drop the chat id and the keys' chat and resident parts (call inside the erasing
    transaction)."""
    await store.forget_chat(db, chat_id, now=now)


async def count_queued(db: Connection) -> int:
    """How many messages wait in the queue."""
    return await store.count_queued(db)


async def queued_span(db: Connection) -> tuple[int, datetime | None, datetime | None]:
    """How many messages wait in the queue, and the first and last moment they may go out."""
    return await store.queued_span(db)


def quiet_hours_end(now: datetime, quiet: QuietHours = QUIET_HOURS) -> datetime | None:
    """When the quiet hours around `now` end (UTC), or None outside them."""
    if quiet is None:
        return None
    start, end = quiet
    local = _aware(now).astimezone(TIMEZONE)
    clock = local.time().replace(tzinfo=None)
    inside = (start <= clock < end) if start <= end else (clock >= start or clock < end)
    if not inside:
        return None
    morning = datetime.combine(local.date(), end, tzinfo=TIMEZONE)
    if morning <= local:
        morning = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=TIMEZONE)
    return morning.astimezone(UTC)


async def claim_due(
    db: Connection, *, now: datetime, limit: int, quiet: QuietHours = QUIET_HOURS
) -> list[OutboxMessage]:
    """Atomically take up to `limit` due messages, oldest first, marking them 'sending'.

    During quiet hours reminders and broadcasts stay queued, even those planned before.
    """
    held = HELD_IN_QUIET_HOURS if quiet_hours_end(now, quiet) else ()
    async with transaction(db):
        return await store.claim_due(db, now=now, limit=limit, held=held)


async def requeue_in_flight(db: Connection) -> int:
    """At start-up: messages left 'sending' by a crash go back to the queue; return how many."""
    async with transaction(db):
        return await store.requeue_sending(db)


async def record_outcomes(
    db: Connection, outcomes: list[tuple[OutboxMessage, Outcome]], *, now: datetime
) -> None:
    """Write outcomes in one transaction (a retry past MAX_ATTEMPTS fails)."""
    delivered = [(m.id, _telegram_id(o)) for m, o in outcomes if o.state == "sent"]
    async with transaction(db):
        await store.set_sent(db, delivered, now=now)
        for message, outcome in outcomes:
            if outcome.state == "sent":
                continue
            if outcome.state == "blocked":
                await store.set_final(db, message.id, state="blocked", error=outcome.error, now=now)
                await store.block_chat(db, message.chat_id, now=now)
            elif outcome.state == "later":  # not tried: the chat was not free yet
                await store.set_deferred(db, message.id, not_before=now + outcome.delay, now=now)
            elif outcome.state == "retry" and message.attempts < MAX_ATTEMPTS:
                await store.set_requeued(
                    db, message.id, not_before=now + outcome.delay, error=outcome.error, now=now
                )
            elif outcome.state == "retry":
                reason = f"gave up after {message.attempts} attempts: {outcome.error}"
                await store.set_final(db, message.id, state="failed", error=reason, now=now)
            else:
                await store.set_final(db, message.id, state="failed", error=outcome.error, now=now)


def _telegram_id(outcome: Outcome) -> int:
    """A delivery's Telegram message id (it always has one)."""
    assert outcome.telegram_message_id is not None
    return outcome.telegram_message_id


async def mark_sent(
    db: Connection, message_id: int, telegram_message_id: int, now: datetime
) -> None:
    """The message was delivered as Telegram message `telegram_message_id`."""
    await _record_one(db, message_id, Outcome("sent", telegram_message_id=telegram_message_id), now)


async def mark_blocked(db: Connection, message_id: int, chat_id: int, now: datetime) -> None:
    """The chat blocked the bot: close this message and the chat's queue, remember the chat."""
    await _record_one(db, message_id, Outcome("blocked", error="chat blocked the bot"), now)


async def mark_retry(
    db: Connection,
    message_id: int,
    *,
    now: datetime,
    delay: timedelta,
    error: str = "temporary failure",
) -> str:
    """Queue again after `delay`, or fail after MAX_ATTEMPTS attempts; return the new state."""
    await _record_one(db, message_id, Outcome("retry", error=error, delay=delay), now)
    message = await store.get_message(db, message_id)
    assert message is not None
    return message.state


async def mark_failed(db: Connection, message_id: int, error: str, now: datetime) -> None:
    """The message can never be delivered as it is (e.g. Telegram refused it)."""
    await _record_one(db, message_id, Outcome("failed", error=error), now)


async def _record_one(db: Connection, message_id: int, outcome: Outcome, now: datetime) -> None:
    """One message's outcome, by the same rules as the sender's batches."""
    message = await store.get_message(db, message_id)
    if message is None:
        raise LookupError(f"no outbox message {message_id}")
    await record_outcomes(db, [(message, outcome)], now=now)


async def unblock_chat(db: Connection, chat_id: int) -> bool:
    """The person wrote to the bot again: new messages may reach them; True if it was blocked."""
    async with transaction(db):
        return await store.unblock_chat(db, chat_id)


async def unblock_chat_if_blocked(
    db: Connection, chat_id: int, *, blocked: bool | None = None
) -> bool:
    """Unblock the chat if it is blocked (a cheap read first: this runs for every update);
    `blocked`: whether it is, when the caller read it already (bot/conversations.py reads it
    with the update's conversations)."""
    if blocked is None:
        blocked = await store.is_blocked(db, chat_id)
    if not blocked:
        return False
    return await unblock_chat(db, chat_id)


async def get_message(db: Connection, message_id: int) -> OutboxMessage | None:
    """One outbox message by id, or None."""
    return await store.get_message(db, message_id)


async def delivery_report(db: Connection, key_prefix: str) -> dict[str, int]:
    """Counts per state (every state present, zeros included) of the keys with this prefix."""
    counts = await store.count_by_state(db, key_prefix)
    return {state: counts.get(state, 0) for state in OUTBOX_STATES}


def _aware(moment: datetime) -> datetime:
    """A naive datetime is taken to be UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
