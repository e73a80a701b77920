"""A chat's consented links to a resident (NIK) or a household (KK) for reminders."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.db import vault_of
from bot.domain import Link
from bot.storage.residents import opened, opened_nik

# The subject is stored as its lookup hash (bot/crypto.py) and read back opened from the
# resident it names: the NIK's owner, or any member of the household.
_COLUMNS = (
    "id, chat_id, kind, CASE kind"
    f" WHEN 'nik' THEN {opened_nik('subject_ref')}"
    f" ELSE (SELECT {opened('kk_sealed')} FROM residents r WHERE r.kk_ref = subject_ref LIMIT 1)"
    " END,"
    " reminders_on"
)


async def insert_link(
    db: aiosqlite.Connection, chat_id: int, kind: str, subject: str, *, now: datetime
) -> bool:
    """Create the link (reminders on); False when it already existed (then it is switched on)."""
    ref = vault_of(db).ref(subject)
    cursor = await db.execute(
        "INSERT INTO links (chat_id, kind, subject_ref, consent_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (chat_id, kind, subject_ref) DO NOTHING",
        (chat_id, kind, ref, now.isoformat()),
    )
    if cursor.rowcount:
        return True
    await db.execute(
        "UPDATE links SET reminders_on = 1 WHERE chat_id = ? AND kind = ? AND subject_ref = ?",
        (chat_id, kind, ref),
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
    # A subject nobody holds any more (gone from the population) reads as "": it covers nobody.
    return Link(row[0], row[1], row[2], row[3] or "", bool(row[4]))
