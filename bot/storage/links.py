"""A chat's consented links to a resident (NIK) or a household (KK) for reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.domain import Link
from bot.engine import Connection
from bot.storage.residents import open_sealed

# The subject is stored as its lookup hash (bot/crypto.py) and read back from the resident it
# names, the NIK's owner or a member of the household (the first by hash), whose sealed NIK or
# KK number comes along and is opened here, in Python on both engines.
_SELECT = (
    "SELECT l.id, l.chat_id, l.kind, CASE l.kind WHEN 'nik' THEN r.nik_sealed ELSE r.kk_sealed"
    " END, r.nik_ref, l.reminders_on FROM links l LEFT JOIN residents r ON r.nik_ref = CASE l.kind"
    " WHEN 'nik' THEN l.subject_ref"
    " ELSE (SELECT m.nik_ref FROM residents m WHERE m.kk_ref = l.subject_ref"
    " ORDER BY m.nik_ref LIMIT 1) END"
)


async def insert_link(
    db: Connection, chat_id: int, kind: str, subject: str, *, now: datetime
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


async def list_links(db: Connection, chat_id: int) -> list[Link]:
    """The chat's links, oldest first."""
    vault = vault_of(db)
    async with db.execute(f"{_SELECT} WHERE l.chat_id = ? ORDER BY l.id", (chat_id,)) as cursor:
        return [_link(row, vault) async for row in cursor]


async def get_link(db: Connection, link_id: int, chat_id: int) -> Link | None:
    """The link with this id if it belongs to this chat."""
    async with db.execute(
        f"{_SELECT} WHERE l.id = ? AND l.chat_id = ?", (link_id, chat_id)
    ) as cursor:
        row = await cursor.fetchone()
    return _link(row, vault_of(db)) if row else None


async def set_reminders(db: Connection, link_id: int, *, on: bool) -> None:
    """Switch reminders for one link on or off."""
    await db.execute("UPDATE links SET reminders_on = ? WHERE id = ?", (int(on), link_id))


async def delete_link(db: Connection, link_id: int) -> None:
    """Remove one link."""
    await db.execute("DELETE FROM links WHERE id = ?", (link_id,))


def _link(row: Any, vault: Vault) -> Link:
    id_, chat_id, kind, sealed, nik_ref, reminders_on = row
    # A subject nobody holds any more (gone from the population) reads as "": it covers nobody.
    column = "nik_sealed" if kind == "nik" else "kk_sealed"
    subject = "" if sealed is None else open_sealed(vault, column, sealed, nik_ref)
    return Link(id_, chat_id, kind, subject, bool(reminders_on))
