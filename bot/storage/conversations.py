"""Conversations kept between updates: states and flow data (migration 0026).

Values arrive sealed (bot/services/conversations.py); this module only moves rows. Runs on
SQLite and PostgreSQL alike (bot/engine.py); `RESEAL` is for SQLite's rotate-key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.domain import KeptFlow
from bot.engine import Connection
from bot.storage.outbox import ts

PLACE = "conversations.value"  # what a value is sealed bound to, with its row's key
USER, CHAT = "@user", "@chat"  # the names of the flow-data rows
NOBODY = 0  # chat_id of an account's data row, user_id of a chat's
# `rows_of`'s marks (no row has these names): the update was handled; the chat blocked the bot
HANDLED, BLOCKED = "@handled", "@blocked"


def row_key(chat_id: int, user_id: int, name: str) -> str:
    """The row's identity a sealed value is bound to (the same in SQL: see `reseal`)."""
    return f"{name}:{chat_id}:{user_id}"


# For bot/storage/vault.py's key rotation: every value opened and sealed again.
RESEAL = (
    f"UPDATE conversations SET value = new_seal(unseal(value, '{PLACE}',"
    f" name || ':' || chat_id || ':' || user_id), '{PLACE}',"
    " name || ':' || chat_id || ':' || user_id)"
)


async def rows_of(
    db: Connection, chat_id: int, user_id: int, *, update_id: int = 0
) -> tuple[list[KeptFlow], set[str]]:
    """Every row an update of `user_id` in `chat_id` may use (either may be NOBODY), and the
    marks found of what else each update begins with: HANDLED when update `update_id` is
    recorded as handled (processed_updates, bot/storage/updates.py), BLOCKED when the chat is
    recorded as having blocked the bot (blocked_chats, bot/storage/outbox.py). One statement
    (on PostgreSQL, one round trip) instead of three."""
    query = (
        "SELECT chat_id, user_id, name, value, expires_at FROM conversations"
        " WHERE chat_id = ? AND user_id IN (?, 0) UNION ALL"
        " SELECT chat_id, user_id, name, value, expires_at FROM conversations"
        " WHERE chat_id = 0 AND user_id = ? AND ? != 0 UNION ALL"
        f" SELECT 0, 0, '{HANDLED}', NULL, NULL FROM processed_updates WHERE update_id = ?"
        f" UNION ALL SELECT 0, 0, '{BLOCKED}', NULL, NULL FROM blocked_chats WHERE chat_id = ?"
    )
    params = (chat_id, user_id, user_id, chat_id, update_id, chat_id)
    rows = list(await db.execute_fetchall(query, params))
    marks = {str(n) for _, _, n, _, _ in rows if n in (HANDLED, BLOCKED)}
    kept = [
        KeptFlow(int(c), int(u), str(n), bytes(v), datetime.fromisoformat(e))
        for c, u, n, v, e in rows
        if n not in marks
    ]
    return kept, marks


async def put_rows(db: Connection, rows: Iterable[KeptFlow]) -> None:
    """Insert or replace rows. Inside the caller's transaction."""
    await db.executemany(
        "INSERT INTO conversations (chat_id, user_id, name, value, expires_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id, name)"
        " DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
        [(r.chat_id, r.user_id, r.name, r.sealed, ts(r.expires_at)) for r in rows],
    )


async def delete_rows(db: Connection, keys: Iterable[tuple[int, int, str]]) -> None:
    """Delete rows by (chat_id, user_id, name). Inside the caller's transaction."""
    await db.executemany(
        "DELETE FROM conversations WHERE chat_id = ? AND user_id = ? AND name = ?", list(keys)
    )


async def expired_states(db: Connection, now: datetime) -> list[tuple[int, int, str]]:
    """(chat_id, user_id, name) of the conversation states past their expiry."""
    rows = await db.execute_fetchall(
        "SELECT chat_id, user_id, name FROM conversations"
        " WHERE expires_at <= ? AND name NOT IN (?, ?) ORDER BY expires_at",
        (ts(now), USER, CHAT),
    )
    return [(int(c), int(u), str(n)) for c, u, n in rows]


async def delete_expired(db: Connection, now: datetime) -> int:
    """Delete every row past its expiry; return how many."""
    cursor = await db.execute("DELETE FROM conversations WHERE expires_at <= ?", (ts(now),))
    return cursor.rowcount
