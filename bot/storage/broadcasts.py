"""Village officials' broadcasts and the chats they go to.

A broadcast's messages are outbox rows keyed `broadcast:<id>:<chat_id>`. They are planned here
with one INSERT ... SELECT rather than through `outbox.enqueue_many`, so that the broadcast row
and its 10,000+ messages are written in the caller's one short transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.storage.outbox import ts
from bot.storage.stats import DEACTIVATED, TURNING_17_UNRECORDED, UNRECORDED_WAJIB, Ages

# audience -> which residents of the area it addresses
AUDIENCES: dict[str, str] = {
    "linked": "1",
    "unrecorded": UNRECORDED_WAJIB,
    "turning17": TURNING_17_UNRECORDED,
    "deactivated": DEACTIVATED,
}

REGENCY_CODE_LENGTH = 4  # "3505"; a kecamatan has 6 digits, a desa 10

_COLUMNS = (
    "id, author_id, area_code, audience, template, parameters, recipients, created_at, reported_at"
)


@dataclass(frozen=True)
class Broadcast:
    """One broadcast as it was confirmed."""

    id: int
    author_id: int
    area_code: str
    audience: str
    template: str
    parameters: dict[str, Any]
    recipients: int
    created_at: datetime
    reported_at: datetime | None


def key_prefix(broadcast_id: int) -> str:
    """The outbox keys of one broadcast's messages start with this."""
    return f"broadcast:{broadcast_id}:"


def _recipients_sql(audience: str, code: str) -> str:
    """(chat_id, locale) of every chat that may hear about the audience's residents: linked
    through a NIK or a household, reminders on, not blocked; each chat once.

    A desa or kecamatan is read from its residents (a few thousand, by the kode_desa index);
    the whole regency from the links instead (CROSS JOIN keeps that order), since there are
    far fewer linked residents than residents.
    """
    join = "CROSS JOIN" if len(code) <= REGENCY_CODE_LENGTH else "JOIN"
    first, second = (
        ("links l", "residents r") if join == "CROSS JOIN" else ("residents r", "links l")
    )
    where = f"r.kode_desa >= :low AND r.kode_desa < :high AND {AUDIENCES[audience]}"
    return (
        "WITH linked AS ("
        f"  SELECT l.chat_id FROM {first} {join} {second}"
        f"  ON l.kind = 'nik' AND l.subject_ref = r.nik_ref WHERE l.reminders_on = 1 AND {where}"
        "  UNION"
        f"  SELECT l.chat_id FROM {first} {join} {second}"
        f"  ON l.kind = 'household' AND l.subject_ref = r.kk_ref"
        f"  WHERE l.reminders_on = 1 AND {where})"
        " SELECT c.chat_id, c.locale FROM linked JOIN chats c ON c.chat_id = linked.chat_id"
        " WHERE c.chat_id NOT IN (SELECT chat_id FROM blocked_chats)"
    )


async def count_recipients(
    db: aiosqlite.Connection, code: str, audience: str, *, ages: Ages
) -> int:
    """How many distinct chats a broadcast to `audience` in area `code` would reach."""
    query = f"SELECT count(*) FROM ({_recipients_sql(audience, code)})"
    async with db.execute(query, ages.params(code)) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def insert_broadcast(
    db: aiosqlite.Connection,
    *,
    author_id: int,
    area_code: str,
    audience: str,
    template: str,
    parameters: Mapping[str, Any],
    now: datetime,
) -> int:
    """Record a confirmed broadcast (recipients counted by `set_recipients`); return its id."""
    cursor = await db.execute(
        "INSERT INTO broadcasts (author_id, area_code, audience, template, parameters,"
        " recipients, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
        (author_id, area_code, audience, template, json.dumps(dict(parameters)), ts(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def insert_messages(
    db: aiosqlite.Connection,
    broadcast_id: int,
    audience: str,
    *,
    code: str,
    ages: Ages,
    texts: Mapping[str, str],
    default_locale: str,
    not_before: datetime,
    now: datetime,
    markups: Mapping[str, str] | None = None,
) -> int:
    """Queue one 'broadcast' outbox message per recipient chat, in its language (with its
    keyboard in that language, when `markups` gives one); return how many."""
    choices = " ".join(f"WHEN :locale_{loc} THEN :text_{loc}" for loc in texts)
    params = ages.params(code) | {f"locale_{loc}": loc for loc in texts}
    params |= {f"text_{loc}": text for loc, text in texts.items()}
    params |= {"default": texts[default_locale], "id": broadcast_id}
    params |= {"not_before": ts(not_before), "now": ts(now)}
    markup = "NULL"
    if markups:
        params |= {f"markup_{loc}": markups[loc] for loc in texts}
        params |= {"default_markup": markups[default_locale]}
        keyboards = " ".join(f"WHEN :locale_{loc} THEN :markup_{loc}" for loc in texts)
        markup = f"CASE locale {keyboards} ELSE :default_markup END"
    cursor = await db.execute(
        "INSERT INTO outbox (idempotency_key, chat_id, kind, text, reply_markup, state,"
        " not_before, created_at, updated_at)"
        " SELECT 'broadcast:' || :id || ':' || chat_id, chat_id, 'broadcast',"
        f" seal(CASE locale {choices} ELSE :default END, 'outbox.text', chat_id), {markup},"
        " 'queued', :not_before, :now, :now"
        f" FROM ({_recipients_sql(audience, code)}) ORDER BY chat_id",
        params,
    )
    return cursor.rowcount


async def set_recipients(db: aiosqlite.Connection, broadcast_id: int, recipients: int) -> None:
    """How many chats the broadcast's messages were queued for."""
    await db.execute(
        "UPDATE broadcasts SET recipients = ? WHERE id = ?", (recipients, broadcast_id)
    )


async def count_since(db: aiosqlite.Connection, author_id: int, since: datetime) -> int:
    """How many broadcasts the author confirmed at or after `since`."""
    async with db.execute(
        "SELECT count(*) FROM broadcasts WHERE author_id = ? AND created_at >= ?",
        (author_id, ts(since)),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def recent(db: aiosqlite.Connection, author_id: int, *, limit: int) -> list[Broadcast]:
    """The author's latest broadcasts, newest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts WHERE author_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (author_id, limit),
    ) as cursor:
        return [_broadcast(row) async for row in cursor]


async def get_broadcast(db: aiosqlite.Connection, broadcast_id: int) -> Broadcast | None:
    """One broadcast by id, or None."""
    query = f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?"
    async with db.execute(query, (broadcast_id,)) as cursor:
        row = await cursor.fetchone()
    return _broadcast(row) if row else None


async def finished_unreported(db: aiosqlite.Connection) -> list[Broadcast]:
    """Broadcasts whose messages are all final ('queued'/'sending' none left), not yet reported."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts b WHERE reported_at IS NULL AND NOT EXISTS ("
        " SELECT 1 FROM outbox o WHERE o.idempotency_key >= 'broadcast:' || b.id || ':'"
        " AND o.idempotency_key < 'broadcast:' || b.id || ';'"
        " AND o.state IN ('queued', 'sending')) ORDER BY id"
    ) as cursor:
        return [_broadcast(row) async for row in cursor]


async def mark_reported(db: aiosqlite.Connection, broadcast_id: int, *, now: datetime) -> bool:
    """Note that the delivery report is planned; False if it already was."""
    cursor = await db.execute(
        "UPDATE broadcasts SET reported_at = ? WHERE id = ? AND reported_at IS NULL",
        (ts(now), broadcast_id),
    )
    return cursor.rowcount == 1


def _broadcast(row: aiosqlite.Row) -> Broadcast:
    return Broadcast(
        id=row[0],
        author_id=row[1],
        area_code=row[2],
        audience=row[3],
        template=row[4],
        parameters=json.loads(row[5]),
        recipients=row[6],
        created_at=datetime.fromisoformat(row[7]),
        reported_at=datetime.fromisoformat(row[8]) if row[8] else None,
    )
