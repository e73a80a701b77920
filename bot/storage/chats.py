"""Chats that talked to the bot: language and reachability."""

from __future__ import annotations

from datetime import datetime

from bot.engine import Connection


async def get_locale(db: Connection, chat_id: int) -> str | None:
    """The chat's chosen language, or None when it never chose."""
    rows = list(await db.execute_fetchall("SELECT locale FROM chats WHERE chat_id = ?", (chat_id,)))
    return str(rows[0][0]) if rows else None


async def ensure_chat(db: Connection, chat_id: int, *, locale: str, now: datetime) -> None:
    """Create the chat row if missing (keeps an existing row's language)."""
    await db.execute(
        "INSERT INTO chats (chat_id, locale, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (chat_id) DO NOTHING",
        (chat_id, locale, now.isoformat()),
    )


async def set_locale(db: Connection, chat_id: int, locale: str, *, now: datetime) -> None:
    """Remember the chat's language."""
    await db.execute(
        "INSERT INTO chats (chat_id, locale, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (chat_id) DO UPDATE SET locale = excluded.locale",
        (chat_id, locale, now.isoformat()),
    )


async def delete_chat(db: Connection, chat_id: int) -> int:
    """Delete the chat row (links go with it); return rows deleted."""
    cursor = await db.execute("DELETE FROM chats WHERE chat_id = ?", (chat_id,))
    return cursor.rowcount


async def forget_chat_everywhere(db: Connection, chat_id: int) -> None:
    """Unhook the chat from its bookings, waitlist and tickets; the office's records stay."""
    await db.execute(
        "UPDATE waitlist SET state = 'cancelled'"
        " WHERE chat_id = ? AND state IN ('waiting', 'offered')",
        (chat_id,),
    )
    for table in ("bookings", "waitlist", "tickets"):
        await db.execute(f"UPDATE {table} SET chat_id = 0 WHERE chat_id = ?", (chat_id,))
