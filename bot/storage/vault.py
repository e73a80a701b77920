"""The key the database is sealed with, and re-sealing everything under a new one.

On SQLite re-sealing reads with the connection's functions (`ref_of`, `unseal`: the current key)
and writes with a second set under the prefix `new_` (bot.db.install_vault). On PostgreSQL,
which has no such functions (the key never reaches the server), the rows are read in batches by
key ranges, opened with the current vault and sealed with the new one in Python, and written
into temporary tables; the same UPDATEs then move the values into place. Call it inside one
transaction: stopped half-way, nothing has changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.crypto import Row, Vault
from bot.db import vault_of
from bot.engine import Connection, is_postgresql
from bot.postgres import Statements
from bot.storage.addresses import PLACE as ADDRESS_PLACE
from bot.storage.addresses import opened_alamat
from bot.storage.conversations import PLACE as CONVERSATION_PLACE
from bot.storage.conversations import RESEAL as CONVERSATIONS_RESEAL
from bot.storage.outbox import OPENED_PLAN, OPENED_TEXT, PLAN, PLAN_HASHED, REF_HEX
from bot.storage.residents import drop_index, opened, secondary_indexes

_RESEAL = (
    # Old lookup hash -> new one, for the NIKs and for the KK numbers.
    "CREATE TEMP TABLE nik_map (old BLOB PRIMARY KEY, new BLOB NOT NULL) WITHOUT ROWID",
    f"INSERT INTO nik_map SELECT nik_ref, new_ref_of({opened('nik_sealed')}) FROM residents r",
    "CREATE TEMP TABLE kk_map (old BLOB PRIMARY KEY, new BLOB NOT NULL) WITHOUT ROWID",
    # One member per household (a bare column of the row min() chose) gives its KK number.
    f"INSERT INTO kk_map SELECT kk_ref, new_ref_of({opened('kk_sealed')}) FROM"
    " (SELECT kk_ref, min(nik_ref) AS nik_ref, kk_sealed FROM residents GROUP BY kk_ref) r",
    # The children point at the new hashes before the residents carry them: foreign keys are
    # checked at COMMIT. A row whose resident is gone keeps its hash (nothing to re-derive it).
    "PRAGMA defer_foreign_keys = ON",
    *(
        f"UPDATE {table} SET nik_ref = coalesce("
        f"(SELECT new FROM nik_map WHERE old = {table}.nik_ref), nik_ref)"
        for table in ("bookings", "waitlist", "tickets", "received_cards", "living_elsewhere")
    ),
    "UPDATE links SET subject_ref = coalesce(CASE kind"
    " WHEN 'nik' THEN (SELECT new FROM nik_map WHERE old = links.subject_ref)"
    " ELSE (SELECT new FROM kk_map WHERE old = links.subject_ref) END, subject_ref)",
    # Each sealed value is bound to its row's nik_ref (bot/crypto.py): opened under the old one,
    # sealed under the new one.
    "UPDATE resident_addresses AS a SET (nik_ref, alamat_sealed) = (SELECT n.new,"
    f" new_seal({opened_alamat('a')}, '{ADDRESS_PLACE}', n.new) FROM nik_map n"
    " WHERE n.old = a.nik_ref) WHERE a.nik_ref IN (SELECT old FROM nik_map)",
    "UPDATE residents AS r SET (nik_ref, kk_ref, nik_sealed, kk_sealed, nama_sealed, lahir_sealed)"
    " = (SELECT n.new, k.new,"
    + ", ".join(
        f"new_seal({opened(column)}, 'residents.{column}', n.new)"
        for column in ("nik_sealed", "kk_sealed", "nama_sealed", "lahir_sealed")
    )
    + " FROM nik_map n, kk_map k WHERE n.old = r.nik_ref AND k.old = r.kk_ref)",
    # A reminder's key is a keyed hash of its sealed plan, which starts with the resident's
    # hash: both are re-derived, so a reminder planned before the rotation is still recognised
    # (withdrawn, not sent twice) after it. A plan whose resident is gone is dropped.
    "CREATE TEMP TABLE ref_hex (old TEXT PRIMARY KEY, new TEXT NOT NULL) WITHOUT ROWID",
    "INSERT INTO ref_hex SELECT lower(hex(old)), lower(hex(new)) FROM nik_map",
    f"CREATE TEMP TABLE plan_map AS SELECT id, plan, substr(key, 1, instr(key, ':'))"
    f" || lower(hex(new_ref_of('{PLAN_HASHED}' || plan))) AS key FROM"
    f" (SELECT o.id, o.key, m.new || substr(o.plan, {REF_HEX + 1}) AS plan FROM"
    f" (SELECT id, idempotency_key AS key, {OPENED_PLAN} AS plan FROM outbox"
    f" WHERE plan IS NOT NULL) o LEFT JOIN ref_hex m ON m.old = substr(o.plan, 1, {REF_HEX}))",
    "UPDATE outbox SET idempotency_key = coalesce(p.key, idempotency_key),"
    f" plan = new_seal(p.plan, '{PLAN}', p.key) FROM plan_map p WHERE outbox.id = p.id",
    f"UPDATE outbox SET text = new_seal({OPENED_TEXT}, 'outbox.text', chat_id)",
    CONVERSATIONS_RESEAL,  # drafts of flows in progress
    "DROP TABLE temp.nik_map",
    "DROP TABLE temp.kk_map",
    "DROP TABLE temp.ref_hex",
    "DROP TABLE temp.plan_map",
)


# PostgreSQL: what the batches write (ON COMMIT DROP: nothing of them outlives the rotation),
# by COPY; their keys are made once they are full (`_KEYS`).
_STAGES = """
CREATE TEMP TABLE new_residents (old BYTEA NOT NULL, nik_ref BYTEA NOT NULL,
    kk_ref BYTEA NOT NULL, nik_sealed BYTEA NOT NULL, kk_sealed BYTEA NOT NULL,
    nama_sealed BYTEA NOT NULL, lahir_sealed BYTEA NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE kk_map (old BYTEA NOT NULL, new BYTEA NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE new_addresses (old BYTEA NOT NULL, alamat_sealed BYTEA, nik_ref BYTEA NOT NULL)
    ON COMMIT DROP;
CREATE TEMP TABLE new_plans (id BIGINT NOT NULL, key TEXT NOT NULL, plan BYTEA) ON COMMIT DROP;
CREATE TEMP TABLE new_texts (id BIGINT NOT NULL, text BYTEA NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE new_values (chat_id BIGINT NOT NULL, user_id BIGINT NOT NULL, name TEXT NOT NULL,
    value BYTEA NOT NULL) ON COMMIT DROP;
"""
# A household's members are spread over the batches: kk_map holds its pair once per member.
_KEYS = """
ALTER TABLE new_residents ADD PRIMARY KEY (old);
CREATE INDEX ON kk_map (old);
ANALYZE new_residents;
ANALYZE kk_map;
"""
# PostgreSQL: the foreign keys to residents, dropped while the hashes change and added back (one
# check of each whole table) before COMMIT: checked row by row at COMMIT instead (DEFERRABLE,
# SQLite's way), they took longer than the whole rewrite (measured at 30,000 residents).
_FOREIGN_KEYS = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE contype = 'f' AND confrelid = 'residents'::regclass ORDER BY 1, 2"
)
# PostgreSQL: the staged values into place, in SQLite's order.
_APPLY = (
    *(
        f"UPDATE {table} AS t SET nik_ref = n.nik_ref FROM new_residents n WHERE n.old = t.nik_ref"
        for table in ("bookings", "waitlist", "tickets", "received_cards", "living_elsewhere")
    ),
    "UPDATE links SET subject_ref = coalesce(CASE kind"
    " WHEN 'nik' THEN (SELECT nik_ref FROM new_residents WHERE old = links.subject_ref)"
    " ELSE (SELECT new FROM kk_map WHERE old = links.subject_ref LIMIT 1) END, subject_ref)",
    "UPDATE resident_addresses AS a SET nik_ref = n.nik_ref, alamat_sealed = n.alamat_sealed"
    " FROM new_addresses n WHERE n.old = a.nik_ref",
    "UPDATE residents AS r SET nik_ref = n.nik_ref, kk_ref = n.kk_ref, nik_sealed = n.nik_sealed,"
    " kk_sealed = n.kk_sealed, nama_sealed = n.nama_sealed, lahir_sealed = n.lahir_sealed"
    " FROM new_residents n WHERE n.old = r.nik_ref",
    "UPDATE outbox SET idempotency_key = p.key, plan = p.plan FROM new_plans p"
    " WHERE outbox.id = p.id",
    "UPDATE outbox SET text = n.text FROM new_texts n WHERE outbox.id = n.id",
    "UPDATE conversations AS c SET value = n.value FROM new_values n"
    " WHERE (c.chat_id, c.user_id, c.name) = (n.chat_id, n.user_id, n.name)",
)
# The tables the rotation rewrote: on PostgreSQL their old row versions (old values) stay in
# the files until VACUUM FULL rewrites them (`vacuum_rewritten`).
REWRITTEN = (
    "residents",
    "resident_addresses",
    "bookings",
    "waitlist",
    "tickets",
    "received_cards",
    "living_elsewhere",
    "links",
    "outbox",
    "conversations",
)
BATCH = 5000  # rows read, re-sealed and written at a time (PostgreSQL)
_SEALED = ("nik_sealed", "kk_sealed", "nama_sealed", "lahir_sealed")


async def stored_fingerprint(db: Connection) -> str | None:
    """The fingerprint of the key the database is sealed with (None before any)."""
    rows = list(await db.execute_fetchall("SELECT fingerprint FROM vault_key WHERE id = 1"))
    return str(rows[0][0]) if rows else None


async def reseal_everything(db: Connection, new: Vault, *, now: datetime) -> int:
    """Re-seal and re-hash every sealed value under `new` (on SQLite its functions, installed
    under the prefix `new_`); return how many residents. Inside the caller's transaction."""
    if is_postgresql(db):
        await _stage(db, vault_of(db), new)
        keys = await db.execute_fetchall(_FOREIGN_KEYS)
        for table, name, _ in keys:
            await db.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        indexes = await secondary_indexes(db)  # every row changes: built again at once
        for name, _ in indexes:
            await drop_index(db, name)
        for statement in _APPLY:
            await db.execute(statement)
        for _, create in indexes:
            await db.execute(create)
        for table, name, definition in keys:
            await db.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    else:
        for statement in _RESEAL:
            await db.execute(statement)
    await db.execute(
        "UPDATE vault_key SET fingerprint = ?, since = ? WHERE id = 1",
        (new.fingerprint, now.astimezone(UTC).isoformat()),
    )
    rows = list(await db.execute_fetchall("SELECT count(*) FROM residents"))
    return int(rows[0][0])


async def vacuum_rewritten(db: Connection) -> None:
    """PostgreSQL, after the rotation's COMMIT: rewrite the tables it changed, so that their
    files hold no row version sealed with the old key (WAL archives and base backups still do,
    until they expire)."""
    await db.execute(f"VACUUM FULL {', '.join(REWRITTEN)}")


async def _stage(db: Statements, old: Vault, new: Vault) -> None:
    """PostgreSQL: every sealed value opened with `old`, sealed with `new`, into the temporary
    tables of _STAGES, batch by batch."""
    await db.execute(_STAGES)
    await _stage_residents(db, old, new)
    await db.execute(_KEYS)
    async for rows in _batches(
        db,
        "SELECT a.nik_ref, a.alamat_sealed, n.nik_ref FROM resident_addresses a"
        " JOIN new_residents n ON n.old = a.nik_ref WHERE a.nik_ref > ? ORDER BY a.nik_ref",
        b"",
    ):
        staged = [
            (ref, _reseal(old, new, blob, ADDRESS_PLACE, ref, to), to) for ref, blob, to in rows
        ]
        await _copy(db, "new_addresses", staged)
    await _stage_plans(db, old, new)
    async for rows in _batches(
        db, "SELECT id, text, chat_id FROM outbox WHERE id > ? ORDER BY id", 0
    ):
        texts = [(id_, _reseal(old, new, text, "outbox.text", chat)) for id_, text, chat in rows]
        await _copy(db, "new_texts", texts)
    flows = await db.execute_fetchall("SELECT chat_id, user_id, name, value FROM conversations")
    values = [
        (chat, user, name, _reseal(old, new, value, CONVERSATION_PLACE, f"{name}:{chat}:{user}"))
        for chat, user, name, value in flows
    ]
    await _copy(db, "new_values", values)
    await db.execute("ANALYZE new_addresses; ANALYZE new_plans; ANALYZE new_texts")


async def _stage_residents(db: Statements, old: Vault, new: Vault) -> None:
    """Each resident's NIK and KK opened and hashed anew, its four values sealed for the new
    hash; the KK numbers' old and new hashes."""
    async for rows in _batches(
        db,
        "SELECT nik_ref, nik_sealed, kk_sealed, nama_sealed, lahir_sealed, kk_ref FROM residents"
        " WHERE nik_ref > ? ORDER BY nik_ref",
        b"",
    ):
        staged, households = [], {}
        for ref, *blobs, kk_ref in rows:
            nik, kk, nama, lahir = (
                old.open(blob, f"residents.{column}", ref)
                for blob, column in zip(blobs, _SEALED, strict=True)
            )
            to = new.ref(nik)
            households[kk_ref] = new_kk = new.ref(kk)
            sealed = (
                new.seal(text, f"residents.{column}", to)
                for text, column in zip((nik, kk, nama, lahir), _SEALED, strict=True)
            )
            staged.append((ref, to, new_kk, *sealed))
        await _copy(db, "new_residents", staged)
        await _copy(db, "kk_map", list(households.items()))


async def _stage_plans(db: Statements, old: Vault, new: Vault) -> None:
    """Reminders about residents: the plan names the resident's new hash, the key is derived
    from it as before (bot.services.outbox.reminder_key); a plan whose resident is gone is
    dropped and its key kept, as on SQLite."""
    async for rows in _batches(
        db,
        "SELECT id, idempotency_key, plan FROM outbox WHERE plan IS NOT NULL AND id > ?"
        " ORDER BY id",
        0,
    ):
        plans = [(id_, key, old.open(blob, PLAN, key)) for id_, key, blob in rows]
        wanted = list({bytes.fromhex(plan[:REF_HEX]) for _, _, plan in plans})
        found = await db.execute_fetchall(
            "SELECT old, nik_ref FROM new_residents WHERE old = ANY(?)", (wanted,)
        )
        renamed = {bytes(before): bytes(after) for before, after in found}
        staged: list[tuple[int, str, bytes | None]] = []
        for id_, key, plan in plans:
            to = renamed.get(bytes.fromhex(plan[:REF_HEX]))
            if to is None:
                staged.append((id_, key, None))
                continue
            moved = to.hex() + plan[REF_HEX:]
            new_key = key.partition(":")[0] + ":" + new.ref(PLAN_HASHED + moved).hex()
            staged.append((id_, new_key, new.seal(moved, PLAN, new_key)))
        await _copy(db, "new_plans", staged)


async def _batches(db: Statements, query: str, first: Any) -> AsyncIterator[list[Any]]:
    """The rows of `query` (its one parameter: the key to read past; the key first in each
    row, ascending), BATCH at a time."""
    after = first
    while rows := list(await db.execute_fetchall(f"{query} LIMIT {BATCH}", (after,))):
        yield rows
        after = rows[-1][0]


async def _copy(db: Statements, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: rows into a temporary table of _STAGES with COPY, its fastest way in."""
    async with (
        db.lend() as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} FROM STDIN") as copy,
    ):
        for row in rows:
            await copy.write_row(row)


def _reseal(
    old: Vault, new: Vault, blob: bytes | None, place: str, row: Row, to: Row | None = None
) -> bytes | None:
    """The value of `blob`, sealed for `row`, sealed anew for `to` (`row` when not given)."""
    if blob is None:
        return None
    return new.seal(old.open(blob, place, row), place, row if to is None else to)
