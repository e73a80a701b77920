"""A chat's consented links to a resident (NIK) or a household (KK) for reminders."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.domain import Link

_COLUMNS = "id, chat_id, kind, subject, reminders_on"


async def insert_link(
    db: aiosqlite.Connection, chat_id: int, kind: str, subject: str, *, now: datetime
) -> bool:
    """Create the link (reminders on); False when it already existed (then it is switched on)."""
    cursor = await db.execute(
        "INSERT INTO links (chat_id, kind, subject, consent_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (chat_id, kind, subject) DO NOTHING",
        (chat_id, kind, subject, now.isoformat()),
    )
    if cursor.rowcount:
        return True
    await db.execute(
        "UPDATE links SET reminders_on = 1 WHERE chat_id = ? AND kind = ? AND subject = ?",
        (chat_id, kind, subject),
    )
    return False


async def list_links(db: aiosqlite.Connection, chat_id: int) -> list[Link]:
    """The chat's links, oldest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM links WHERE chat_id = ? ORDER BY id", (chat_id,)
    ) as cursor:
        return [_link(row) async for row in cursor]


async def get_link(db: aiosqlite.Connection, link_id: int, chat_id: int) -> Link | None:
    """The link with this id if it belongs to this chat."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM links WHERE id = ? AND chat_id = ?", (link_id, chat_id)
    ) as cursor:
        row = await cursor.fetchone()
    return _link(row) if row else None


async def set_reminders(db: aiosqlite.Connection, link_id: int, *, on: bool) -> None:
    """Switch reminders for one link on or off."""
    await db.execute("UPDATE links SET reminders_on = ? WHERE id = ?", (int(on), link_id))


async def delete_link(db: aiosqlite.Connection, link_id: int) -> None:
    """Remove one link."""
    await db.execute("DELETE FROM links WHERE id = ?", (link_id,))


def _link(row: aiosqlite.Row) -> Link:
    return Link(row[0], row[1], row[2], row[3], bool(row[4]))
