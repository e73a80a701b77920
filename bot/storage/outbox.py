"""The outbox of outgoing messages and the chats that blocked the bot.

Timestamps are UTC ISO text with microseconds: fixed width, so comparing text compares time.
A message's text names the resident, so it is stored sealed (bot/crypto.py) and opened to send.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.engine import Connection, is_postgresql

OUTBOX_STATES = ("queued", "sending", "sent", "blocked", "failed", "withdrawn")
OUTBOX_KINDS = ("reminder", "broadcast", "staff", "reply", "booking")
# Reminders about one resident are keyed `<kind>:<keyed hash of their plan>`: the plan (the NIK's
# lookup hash, kind, chat, due day) is kept sealed beside it, for re-keying after a key rotation
# and for withdrawing them by resident (services.outbox.reminder_key). A teen's due days are
# their birthday: the key shows neither, and once the reminder is done its row is cut loose
# from the chat and its times blurred to the month (_BLUR).
RESIDENT_KINDS = ("teen", "deadline", "deactivated")
PLAN = "outbox.plan"  # where a reminder's plan is sealed, bound to the row's key
TEXT = "outbox.text"  # where a message's text is sealed, bound to the row's chat
# SQLite's SQL functions (rotate-key only, bot/storage/vault.py): everything else seals and opens
# in Python, on both engines (the key never reaches PostgreSQL).
OPENED_PLAN = f"unseal(plan, '{PLAN}', idempotency_key)"
PLAN_HASHED = "outbox:"  # the key hashes this prefix and the plan (apart from NIKs' hashes)
REF_HEX = 64  # the plan starts with the resident's lookup hash, in hex
FINISHED = ("sent", "blocked", "failed", "withdrawn")
# The text is sealed bound to its chat (bot/crypto.py): moved to another chat's row, it does not
# open, so no one's message can be redirected to someone else by editing the file.
OPENED_TEXT = f"unseal(text, '{TEXT}', chat_id)"

_COLUMNS = (
    "id, idempotency_key, chat_id, kind, text, reply_markup, state, attempts,"
    " not_before, telegram_message_id, error, edit_message_id, file_kind, file_name, file"
)
FILE_KINDS = ("photo", "document")


@dataclass(frozen=True)
class OutboxMessage:
    """One outgoing message and where it stands."""

    id: int
    key: str
    chat_id: int
    kind: str
    text: str
    reply_markup_json: str | None
    state: str
    attempts: int
    not_before: datetime
    telegram_message_id: int | None
    error: str | None
    edit_message_id: int | None = None  # set: an edit of this message of the chat, not a new one
    file: Attachment | None = None  # set: sent as this photo or document, the text its caption
    # (None again once the message is done: the file is dropped)


@dataclass(frozen=True)
class Attachment:
    """A file a message carries: a photo or a document (FILE_KINDS), by name and content."""

    kind: str
    name: str
    content: bytes


@dataclass(frozen=True)
class NewMessage:
    """A message to queue (`insert_messages`), as `insert_message` takes one."""

    key: str
    chat_id: int
    kind: str
    text: str
    reply_markup_json: str | None
    not_before: datetime
    plan: str | None = None
    edit_message_id: int | None = None
    file: Attachment | None = None


_INSERTED = (
    "idempotency_key, chat_id, kind, text, reply_markup, state, error, not_before, created_at,"
    " updated_at, plan, edit_message_id, file_kind, file_name, file"
)
_INSERT = (
    f"INSERT INTO outbox ({_INSERTED}) VALUES (?, ?, ?, ?, ?,"
    " CASE WHEN EXISTS (SELECT 1 FROM blocked_chats WHERE chat_id = ?)"
    " THEN 'blocked' ELSE 'queued' END,"
    " CASE WHEN EXISTS (SELECT 1 FROM blocked_chats WHERE chat_id = ?)"
    " THEN 'chat blocked the bot' END,"
    " ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING"
)
# PostgreSQL: every message of a batch in one statement, each column an array (`_row`'s order)
# in psycopg's binary format (%b: the sealed texts need no escaping; ten times faster to send).
_INSERT_UNNESTED = (
    f"INSERT INTO outbox ({_INSERTED})"
    " SELECT m.key, m.chat_id, m.kind, m.text, m.reply_markup,"
    " CASE WHEN b.chat_id IS NULL THEN 'queued' ELSE 'blocked' END,"
    " CASE WHEN b.chat_id IS NOT NULL THEN 'chat blocked the bot' END,"
    " m.not_before, %s, %s, m.plan, m.edit_message_id, m.file_kind, m.file_name, m.file"
    " FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::bytea[], %b::text[], %b::text[],"
    " %b::bytea[], %b::bigint[], %b::text[], %b::text[], %b::bytea[]) WITH ORDINALITY AS m(key,"
    " chat_id, kind, text, reply_markup, not_before, plan, edit_message_id, file_kind, file_name,"
    " file, n) LEFT JOIN blocked_chats AS b ON b.chat_id = m.chat_id ORDER BY m.n"
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, state"
)


async def insert_message(
    db: Connection,
    *,
    key: str,
    chat_id: int,
    kind: str,
    text: str,
    reply_markup_json: str | None,
    not_before: datetime,
    now: datetime,
    plan: str | None = None,
    edit_message_id: int | None = None,
    file: Attachment | None = None,
) -> bool:
    """Queue a message (born 'blocked' for a blocked chat); False if the key already exists.
    A reminder about a resident comes with its `plan`, sealed beside it; an edit of a message
    already sent names it (`edit_message_id`); a photo or document comes as `file`."""
    message = NewMessage(
        key, chat_id, kind, text, reply_markup_json, not_before, plan, edit_message_id, file
    )
    cursor = await db.execute(_INSERT, _values(vault_of(db), message, now))
    if plan is not None and cursor.rowcount == 1:
        await _blur(db, "idempotency_key = ?", (key,))  # born blocked: done already
    return cursor.rowcount == 1


async def insert_messages(db: Connection, messages: Sequence[NewMessage], *, now: datetime) -> int:
    """Queue messages as `insert_message` does each, in three statements at most whatever their
    number (a day's reminders are thousands); return how many were new. In a transaction."""
    if not messages:
        return 0
    vault = vault_of(db)
    if is_postgresql(db):
        columns = [list(column) for column in zip(*(_row(vault, m) for m in messages), strict=True)]
        async with db.lend() as conn:  # psycopg's own placeholders (%b), not SQLite's
            inserted = await conn.execute(_INSERT_UNNESTED, (ts(now), ts(now), *columns))
            rows = await inserted.fetchall()
        born_blocked = [row[0] for row in rows if row[1] != "queued"]
        if born_blocked:  # the reminders among them are done already
            await _blur(db, "id = ANY(?)", (born_blocked,))
        return len(rows)
    # SQLite: the transaction's write lock held, the new rows are those after the last id.
    async with db.execute("SELECT coalesce(max(id), 0) FROM outbox") as cursor:
        (last,) = await cursor.fetchone() or (0,)
    cursor = await db.executemany(_INSERT, [_values(vault, m, now) for m in messages])
    await _blur(db, "id > ?", (last,))  # any reminder born blocked is done already
    return cursor.rowcount


def _values(vault: Vault, message: NewMessage, now: datetime) -> tuple[object, ...]:
    """`_INSERT`'s parameters for one message."""
    key, chat_id, kind, text, markup, not_before, *rest = _row(vault, message)
    return (key, chat_id, kind, text, markup, chat_id, chat_id, not_before, ts(now), ts(now), *rest)


def _row(vault: Vault, message: NewMessage) -> tuple[object, ...]:
    """One message's values, its text and plan sealed: key, chat, kind, text, buttons,
    not_before, plan, edited message, file kind, file name, file."""
    m, file = message, message.file
    return (
        m.key,
        m.chat_id,
        m.kind,
        vault.seal(m.text, TEXT, m.chat_id),
        m.reply_markup_json,
        ts(m.not_before),
        None if m.plan is None else vault.seal(m.plan, PLAN, m.key),
        m.edit_message_id,
        file.kind if file else None,
        file.name if file else None,
        file.content if file else None,
    )


async def get_message(db: Connection, message_id: int) -> OutboxMessage | None:
    """The outbox row with this id, or None."""
    async with db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (message_id,)) as cur:
        row = await cur.fetchone()
    return _message(vault_of(db), row) if row else None


async def get_message_by_key(db: Connection, key: str) -> OutboxMessage | None:
    """The outbox row with this idempotency key, or None."""
    query = f"SELECT {_COLUMNS} FROM outbox WHERE idempotency_key = ?"
    async with db.execute(query, (key,)) as cursor:
        row = await cursor.fetchone()
    return _message(vault_of(db), row) if row else None


async def claim_due(
    db: Connection, *, now: datetime, limit: int, held: tuple[str, ...] = ()
) -> list[OutboxMessage]:
    """Mark up to `limit` due queued messages 'sending' (one statement) and return them.

    Messages of the `held` kinds (reminders during quiet hours) are left queued.
    """
    unheld = f" AND kind NOT IN ({', '.join('?' * len(held))})" if held else ""
    async with db.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?"
        " WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND not_before <= ?"
        f"{unheld} ORDER BY not_before, id LIMIT ?) RETURNING {_COLUMNS}",
        (ts(now), ts(now), *held, limit),
    ) as cursor:
        rows = await cursor.fetchall()
    vault = vault_of(db)
    return sorted((_message(vault, row) for row in rows), key=lambda m: (m.not_before, m.id))


async def requeue_sending(db: Connection) -> int:
    """Put every 'sending' message back to 'queued'; return how many."""
    cursor = await db.execute("UPDATE outbox SET state = 'queued' WHERE state = 'sending'")
    return cursor.rowcount


async def set_sent(db: Connection, delivered: list[tuple[int, int]], *, now: datetime) -> None:
    """Record deliveries, (message id, Telegram's message id) each, in two statements."""
    if not delivered:
        return
    await db.executemany(
        "UPDATE outbox SET state = 'sent', telegram_message_id = ?, error = NULL, updated_at = ?,"
        " file = NULL WHERE id = ?",
        [(telegram_id, ts(now), message_id) for message_id, telegram_id in delivered],
    )
    ids = [message_id for message_id, _telegram_id in delivered]
    await _blur(db, f"id IN ({', '.join('?' * len(ids))})", tuple(ids))


async def set_requeued(
    db: Connection, message_id: int, *, not_before: datetime, error: str, now: datetime
) -> None:
    """Back to the queue, not before `not_before`, keeping the last error."""
    await db.execute(
        "UPDATE outbox SET state = 'queued', not_before = ?, error = ?, updated_at = ?"
        " WHERE id = ?",
        (ts(not_before), error, ts(now), message_id),
    )


async def set_deferred(
    db: Connection, message_id: int, *, not_before: datetime, now: datetime
) -> None:
    """Back to the queue untried: the claim's attempt does not count."""
    await db.execute(
        "UPDATE outbox SET state = 'queued', not_before = ?,"
        " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
        " updated_at = ? WHERE id = ?",
        (ts(not_before), ts(now), message_id),
    )


async def set_final(
    db: Connection, message_id: int, *, state: str, error: str, now: datetime
) -> None:
    """Close a message as 'blocked' or 'failed' with the reason."""
    await db.execute(
        "UPDATE outbox SET state = ?, error = ?, updated_at = ?, file = NULL WHERE id = ?",
        (state, error, ts(now), message_id),
    )
    await _blur(db, "id = ?", (message_id,))


async def withdraw(db: Connection, key_prefix: str, *, now: datetime) -> int:
    """Withdraw the still-queued messages whose key starts with `key_prefix`; return how many."""
    cursor = await db.execute(
        "UPDATE outbox SET state = 'withdrawn', updated_at = ?"
        " WHERE state = 'queued' AND idempotency_key >= ? AND idempotency_key < ?",
        (ts(now), *prefix_range(key_prefix)),
    )
    return cursor.rowcount


async def sent_messages(db: Connection, key_prefix: str) -> list[tuple[int, int]]:
    """(chat id, Telegram message id) of the sent messages whose key starts with `key_prefix`."""
    async with db.execute(
        "SELECT chat_id, telegram_message_id FROM outbox WHERE state = 'sent'"
        " AND telegram_message_id IS NOT NULL AND edit_message_id IS NULL"
        " AND idempotency_key >= ? AND idempotency_key < ? ORDER BY id",
        prefix_range(key_prefix),
    ) as cursor:
        return [(int(chat), int(message)) for chat, message in await cursor.fetchall()]


async def withdraw_message(db: Connection, message_id: int, *, now: datetime) -> bool:
    """Withdraw one message if it is still queued; True if it was."""
    cursor = await db.execute(
        "UPDATE outbox SET state = 'withdrawn', updated_at = ? WHERE id = ? AND state = 'queued'",
        (ts(now), message_id),
    )
    return cursor.rowcount == 1


async def withdraw_about(
    db: Connection, chat_id: int, nik_refs: list[bytes], *, now: datetime
) -> int:
    """Withdraw the chat's still-queued reminders about these residents; return how many.

    The chat's queued reminders are opened in Python (their plan starts with the resident's
    lookup hash in hex) and the ones about these residents withdrawn by id."""
    if not nik_refs:
        return 0
    about = {ref.hex() for ref in nik_refs}
    vault = vault_of(db)
    rows = await db.execute_fetchall(
        "SELECT id, plan, idempotency_key FROM outbox"
        " WHERE chat_id = ? AND state = 'queued' AND plan IS NOT NULL",
        (chat_id,),
    )
    ids = [row[0] for row in rows if _open(vault, row[1], PLAN, row[2])[:REF_HEX] in about]
    if ids:
        await db.execute(
            f"UPDATE outbox SET state = 'withdrawn', updated_at = ? WHERE id IN ({_marks(ids)})",
            (ts(now), *ids),
        )
    await _blur(db, "chat_id = ? AND state = 'withdrawn'", (chat_id,))
    return len(ids)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _month(column: str) -> str:
    """SQL for the first instant of the month of a timestamp column (same fixed width)."""
    return f"{column} = substr({column}, 1, 7) || '-01T00:00:00.000000+00:00'"


# A done reminder about a resident keeps its key (planning it again stays a no-op) and its
# outcome, but not its chat, text, buttons nor day: a teen's reminders fall on their birthday.
_BLUR = (
    "UPDATE outbox SET chat_id = 0, text = ?, reply_markup = NULL, "
    + ", ".join(_month(column) for column in ("not_before", "created_at", "updated_at"))
    + f" WHERE plan IS NOT NULL AND chat_id <> 0 AND state IN {FINISHED!r} AND "
)
ERASED_TEXT = "-"  # what is left of an erased chat's message (the column may not be empty)


async def _blur(db: Connection, where: str, params: tuple[object, ...]) -> None:
    """Cut the done reminders about residents among the rows `where` selects loose."""
    await db.execute(_BLUR + where, (_erased(vault_of(db)), *params))


def _erased(vault: Vault) -> bytes:
    """The text of a message cut loose from its chat: "-" sealed for chat 0 (one blob serves
    every row a statement blanks)."""
    return vault.seal(ERASED_TEXT, TEXT, 0)


# A done reminder to a chat (chat id 0 already): its sealed plan ends `:<chat>:<due day>`.
_DUE_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _done_for_chat(plan: str, chat_id: int) -> bool:
    """Whether an opened plan `<hash>:<kind>:<chat>:<due day>` is of a reminder to the chat."""
    head, _, rest = plan.rpartition(f":{chat_id}:")
    return bool(head) and _DUE_DAY.fullmatch(rest) is not None


async def forget_chat(db: Connection, chat_id: int, *, now: datetime) -> None:
    """Withdraw the chat's queued messages, blank the text and buttons of all of them, and cut
    them loose from the chat: chat id 0, no plan, and a key without the chat id or the
    resident's hash. The key keeps what counts the office's records: the message's kind and,
    for a broadcast, which one (its delivery report). Done reminders, already cut loose, are
    found by their sealed plan (every one is opened in Python: ~5 µs a row) and lose it and
    their key.
    """
    vault = vault_of(db)
    keys = []
    async with db.execute(
        "SELECT id, idempotency_key, chat_id, plan FROM outbox"
        " WHERE chat_id = ? OR (chat_id = 0 AND plan IS NOT NULL)",
        (chat_id,),
    ) as cursor:
        async for message_id, key, chat, plan in cursor:
            if chat == chat_id or _done_for_chat(_open(vault, plan, PLAN, key), chat_id):
                keys.append((_erased_key(key, message_id), message_id))
    await db.execute(
        "UPDATE outbox SET state = CASE WHEN state = 'queued' THEN 'withdrawn' ELSE state END,"
        " text = ?, reply_markup = NULL, updated_at = ?, chat_id = 0, plan = NULL"
        " WHERE chat_id = ?",
        (_erased(vault), ts(now), chat_id),
    )
    await db.executemany("UPDATE outbox SET idempotency_key = ?, plan = NULL WHERE id = ?", keys)
    await db.execute("DELETE FROM blocked_chats WHERE chat_id = ?", (chat_id,))


def _erased_key(key: str, message_id: int) -> str:
    """`broadcast:<id>:erased:<message>` in a broadcast, else `<kind>:erased:<message>`."""
    kind, _, rest = key.partition(":")
    if kind == "broadcast":
        return f"{kind}:{rest.partition(':')[0]}:erased:{message_id}"
    return f"{kind}:erased:{message_id}"


async def count_queued(db: Connection) -> int:
    """How many messages are in state 'queued'."""
    async with db.execute("SELECT count(*) FROM outbox WHERE state = 'queued'") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def queued_span(db: Connection) -> tuple[int, datetime | None, datetime | None]:
    """How many messages are queued, and the earliest and latest moment they may go out."""
    async with db.execute(
        "SELECT count(*), min(not_before), max(not_before) FROM outbox WHERE state = 'queued'"
    ) as cursor:
        row = await cursor.fetchone()
    if not row or not row[0]:
        return 0, None, None
    return int(row[0]), datetime.fromisoformat(row[1]), datetime.fromisoformat(row[2])


async def block_chat(db: Connection, chat_id: int, *, now: datetime) -> None:
    """Remember the chat as blocked (since the month: the day may be a teen's birthday, the
    reminder that met the block) and close its queued messages as 'blocked'."""
    await db.execute(
        "INSERT INTO blocked_chats (chat_id, blocked_at) VALUES (?, ?)"
        " ON CONFLICT (chat_id) DO NOTHING",
        (chat_id, ts(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))),
    )
    await db.execute(
        "UPDATE outbox SET state = 'blocked', error = 'chat blocked the bot', updated_at = ?"
        " WHERE chat_id = ? AND state = 'queued'",
        (ts(now), chat_id),
    )
    await _blur(db, "chat_id = ? AND state = 'blocked'", (chat_id,))


async def unblock_chat(db: Connection, chat_id: int) -> bool:
    """Forget that the chat blocked the bot; True if it was blocked."""
    cursor = await db.execute("DELETE FROM blocked_chats WHERE chat_id = ?", (chat_id,))
    return cursor.rowcount == 1


async def is_blocked(db: Connection, chat_id: int) -> bool:
    """Whether the chat is recorded as having blocked the bot."""
    query = "SELECT 1 FROM blocked_chats WHERE chat_id = ?"
    return bool(list(await db.execute_fetchall(query, (chat_id,))))


async def count_by_state(db: Connection, key_prefix: str) -> dict[str, int]:
    """Messages whose key starts with `key_prefix`, counted per state."""
    async with db.execute(
        "SELECT state, count(*) FROM outbox"
        " WHERE idempotency_key >= ? AND idempotency_key < ? GROUP BY state",
        prefix_range(key_prefix),
    ) as cursor:
        return {state: count async for state, count in cursor}


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds of the keys starting with `prefix`, so the unique index serves the search."""
    if not prefix:
        raise ValueError("an empty key prefix would match every message")
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def ts(moment: datetime) -> str:
    """Fixed-width UTC ISO text; a naive datetime is taken to be UTC already."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def _open(vault: Vault, blob: bytes, place: str, row: int | str) -> str:
    """A sealed text or plan, opened; WrongKey, logged with its place, when it does not open
    (altered, or moved from another row: its text is bound to its chat)."""
    opened = vault.sql_open(blob, place, row)
    assert opened is not None
    return opened


def _message(vault: Vault, row: Sequence[Any]) -> OutboxMessage:
    """A row of _COLUMNS as an OutboxMessage, its text opened."""
    return OutboxMessage(
        id=row[0],
        key=row[1],
        chat_id=row[2],
        kind=row[3],
        text=_open(vault, row[4], TEXT, row[2]),
        reply_markup_json=row[5],
        state=row[6],
        attempts=row[7],
        not_before=datetime.fromisoformat(row[8]),
        telegram_message_id=row[9],
        error=row[10],
        edit_message_id=row[11],
        file=Attachment(row[12], row[13], bytes(row[14])) if row[14] is not None else None,
    )
