"""Staff notices of a booking: the outbox message each one is, and the version it shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.engine import Connection
from bot.storage.outbox import ts


@dataclass(frozen=True)
class StaffNotice:
    """A notice of a booking to one staff chat and where its outbox message stands."""

    outbox_id: int
    chat_id: int
    state: str  # the outbox message's: queued, sending, sent ...
    message_id: int | None  # Telegram's, once sent
    text: str  # what it says (Telegram HTML)
    version: int
    start_at: datetime


# The outbox text is sealed bound to its chat (bot/storage/outbox.py), opened in Python.
_SELECT = (
    "SELECT n.outbox_id, o.chat_id, o.state, o.telegram_message_id, o.text, n.version, n.start_at"
    " FROM booking_notices n JOIN outbox o ON o.id = n.outbox_id"
)


async def insert_notice(
    db: Connection, outbox_key: str, *, booking_id: int, version: int, start_at: datetime
) -> None:
    """Remember that the outbox message `outbox_key` is a notice of the booking's version."""
    await db.execute(
        "INSERT INTO booking_notices (outbox_id, booking_id, version, start_at)"
        " SELECT id, ?, ?, ? FROM outbox WHERE idempotency_key = ?"
        " ON CONFLICT (outbox_id) DO NOTHING",
        (booking_id, version, ts(start_at), outbox_key),
    )


async def open_before(db: Connection, booking_id: int, version: int) -> list[StaffNotice]:
    """The booking's notices showing a version before `version`, not yet retired."""
    query = f"{_SELECT} WHERE n.booking_id = ? AND n.version < ? AND n.retired_at IS NULL"
    rows = await db.execute_fetchall(query + " ORDER BY n.outbox_id", (booking_id, version))
    return [_notice(row, vault_of(db)) for row in rows]


async def retire(db: Connection, outbox_id: int, *, now: datetime) -> bool:
    """Mark the notice retired; False if it was already."""
    cursor = await db.execute(
        "UPDATE booking_notices SET retired_at = ? WHERE outbox_id = ? AND retired_at IS NULL",
        (ts(now), outbox_id),
    )
    return cursor.rowcount == 1


def _notice(row: Sequence[Any], vault: Vault) -> StaffNotice:
    outbox_id, chat_id, state, message_id, sealed, version, start_at = row
    text = vault.open(sealed, "outbox.text", chat_id)
    return StaffNotice(
        outbox_id, chat_id, state, message_id, text, version, datetime.fromisoformat(start_at)
    )
