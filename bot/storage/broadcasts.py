"""Village officials' broadcasts and the chats they go to.

A broadcast's messages are outbox rows keyed `broadcast:<id>:<chat_id>`. They are planned here
rather than through `outbox.enqueue_many`, so that the broadcast row and its 10,000+ messages
are written in the caller's one short transaction: on SQLite with one INSERT ... SELECT (the
text sealed by the connection's SQL function); on PostgreSQL, which never gets the key, the
recipients are selected, each text sealed in Python, and the rows written with COPY.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.crypto import Vault
from bot.db import vault_of
from bot.engine import Connection, is_postgresql
from bot.postgres import Statements
from bot.storage.outbox import TEXT, ts
from bot.storage.residents import open_sealed
from bot.storage.stats import (
    DEACTIVATED,
    TURNING_17_UNRECORDED,
    TURNING_17_YEARS,
    UNRECORDED_WAJIB,
    WAJIB_YEARS,
    Ages,
)

# audience -> which residents of the area it addresses
AUDIENCES: dict[str, str] = {
    "linked": "1",
    "unrecorded": UNRECORDED_WAJIB,
    "turning17": TURNING_17_UNRECORDED,
    "deactivated": DEACTIVATED,
}

# PostgreSQL (no unseal there): an audience whose rule compares birth dates is selected by the
# clear birth year in SQL, the boundary years whole, and their rows decided in Python once the
# date is opened: the rule of AUDIENCES, given the row's year, status_kawin and a way to open
# its birth date (only called for a boundary year).
BirthRule = Callable[[Ages, int, str, Callable[[], date]], bool]
_PG_AUDIENCES: dict[str, tuple[str, BirthRule | None]] = {
    "linked": ("TRUE", None),
    "unrecorded": (
        f"(r.tanggal_rekam IS NULL AND r.status_nik = 'AKTIF' AND {WAJIB_YEARS})",
        lambda ages, year, kawin, birth: (
            kawin != "BELUM KAWIN" or year < ages.adult.year or birth() <= ages.adult
        ),
    ),
    "turning17": (
        f"({TURNING_17_YEARS} AND r.tanggal_rekam IS NULL)",
        lambda ages, year, kawin, birth: (
            ages.teen_from.year < year < ages.teen_to.year or ages.turning_17(birth())
        ),
    ),
    "deactivated": (DEACTIVATED, None),
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


async def count_recipients(db: Connection, code: str, audience: str, *, ages: Ages) -> int:
    """How many distinct chats a broadcast to `audience` in area `code` would reach."""
    if is_postgresql(db):
        return len(await _recipients_postgresql(db, code, audience, ages=ages))
    query = f"SELECT count(*) FROM ({_recipients_sql(audience, code)}) AS recipients"
    async with db.execute(query, ages.params(code)) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _recipients_postgresql(
    db: Connection, code: str, audience: str, *, ages: Ages
) -> list[tuple[int, str | None]]:
    """PostgreSQL's (chat_id, locale) of `_recipients_sql`, by chat id: the residents of the
    audience's birth years found in SQL, those of the boundary years kept or dropped in
    Python after opening their birth date."""
    where, rule = _PG_AUDIENCES[audience]
    where = f"r.kode_desa >= :low AND r.kode_desa < :high AND {where}"
    query = " UNION ALL ".join(
        "SELECT l.chat_id, r.tahun_lahir, r.status_kawin, r.lahir_sealed, r.nik_ref"
        f" FROM residents r JOIN links l ON l.kind = '{kind}' AND l.subject_ref = r.{ref}"
        f" WHERE l.reminders_on = 1 AND {where}"
        for kind, ref in (("nik", "nik_ref"), ("household", "kk_ref"))
    )
    vault, chats = vault_of(db), set()
    for chat_id, year, kawin, blob, ref in await db.execute_fetchall(query, ages.params(code)):
        if chat_id not in chats and (
            rule is None or rule(ages, year, kawin, _birth(vault, blob, ref))
        ):
            chats.add(chat_id)
    rows = await db.execute_fetchall(
        "SELECT chat_id, locale FROM chats WHERE chat_id = ANY(?)"
        " AND chat_id NOT IN (SELECT chat_id FROM blocked_chats) ORDER BY chat_id",
        (sorted(chats),),
    )
    return [(int(chat_id), locale) for chat_id, locale in rows]


def _birth(vault: Vault, blob: bytes, nik_ref: bytes) -> Callable[[], date]:
    """The resident's birth date, opened when asked."""
    return lambda: date.fromisoformat(open_sealed(vault, "lahir_sealed", blob, nik_ref))


async def insert_broadcast(
    db: Connection,
    *,
    author_id: int,
    area_code: str,
    audience: str,
    template: str,
    parameters: Mapping[str, Any],
    now: datetime,
) -> int:
    """Record a confirmed broadcast (recipients counted by `set_recipients`); return its id."""
    rows = await db.execute_fetchall(
        "INSERT INTO broadcasts (author_id, area_code, audience, template, parameters,"
        " recipients, created_at) VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING id",
        (author_id, area_code, audience, template, json.dumps(dict(parameters)), ts(now)),
    )
    return int(next(iter(rows))[0])


async def insert_messages(
    db: Connection,
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
    if isinstance(db, Statements):
        recipients = await _recipients_postgresql(db, code, audience, ages=ages)
        rows = [
            (f"broadcast:{broadcast_id}:{chat_id}", chat_id, "broadcast", text, markup)
            for chat_id, text, markup in _sealed(
                vault_of(db), recipients, texts, default_locale, markups
            )
        ]
        stamps = ("queued", ts(not_before), ts(now), ts(now))
        await _copy_messages(db, [(*row, *stamps) for row in rows])
        return len(rows)
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


def _sealed(
    vault: Vault,
    recipients: list[tuple[int, str | None]],
    texts: Mapping[str, str],
    default_locale: str,
    markups: Mapping[str, str] | None,
) -> list[tuple[int, bytes, str | None]]:
    """(chat_id, sealed text, keyboard) per recipient, in the chat's language when `texts` has
    it (else the default), the text sealed for the chat as `outbox.enqueue` does."""
    chosen = []
    for chat_id, locale in recipients:
        loc = locale if locale is not None and locale in texts else default_locale
        markup = markups[loc] if markups else None
        chosen.append((chat_id, vault.seal(texts[loc], TEXT, chat_id), markup))
    return chosen


async def _copy_messages(db: Statements, rows: Sequence[tuple[object, ...]]) -> None:
    """PostgreSQL: write outbox rows (`_COPIED`) with COPY, its fastest way in."""
    async with (
        db.lend() as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY outbox ({_COPIED}) FROM STDIN") as copy,
    ):
        for row in rows:
            await copy.write_row(row)


_COPIED = "idempotency_key, chat_id, kind, text, reply_markup, state, not_before, created_at,"
_COPIED += " updated_at"


async def set_recipients(db: Connection, broadcast_id: int, recipients: int) -> None:
    """How many chats the broadcast's messages were queued for."""
    await db.execute(
        "UPDATE broadcasts SET recipients = ? WHERE id = ?", (recipients, broadcast_id)
    )


async def count_since(db: Connection, author_id: int, since: datetime) -> int:
    """How many broadcasts the author confirmed at or after `since`."""
    async with db.execute(
        "SELECT count(*) FROM broadcasts WHERE author_id = ? AND created_at >= ?",
        (author_id, ts(since)),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def recent(db: Connection, author_id: int, *, limit: int) -> list[Broadcast]:
    """The author's latest broadcasts, newest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts WHERE author_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (author_id, limit),
    ) as cursor:
        return [_broadcast(row) async for row in cursor]


async def get_broadcast(db: Connection, broadcast_id: int) -> Broadcast | None:
    """One broadcast by id, or None."""
    query = f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?"
    async with db.execute(query, (broadcast_id,)) as cursor:
        row = await cursor.fetchone()
    return _broadcast(row) if row else None


async def finished_unreported(db: Connection) -> list[Broadcast]:
    """Broadcasts whose messages are all final ('queued'/'sending' none left), not yet reported."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts b WHERE reported_at IS NULL AND NOT EXISTS ("
        " SELECT 1 FROM outbox o WHERE o.idempotency_key >= 'broadcast:' || b.id || ':'"
        " AND o.idempotency_key < 'broadcast:' || b.id || ';'"
        " AND o.state IN ('queued', 'sending')) ORDER BY id"
    ) as cursor:
        return [_broadcast(row) async for row in cursor]


async def mark_reported(db: Connection, broadcast_id: int, *, now: datetime) -> bool:
    """Note that the delivery report is planned; False if it already was."""
    cursor = await db.execute(
        "UPDATE broadcasts SET reported_at = ? WHERE id = ? AND reported_at IS NULL",
        (ts(now), broadcast_id),
    )
    return cursor.rowcount == 1


def _broadcast(row: Sequence[Any]) -> Broadcast:
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
