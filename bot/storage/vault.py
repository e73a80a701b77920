"""The key the database is sealed with, and re-sealing everything under a new one.

Re-sealing reads with the connection's functions (`ref_of`, `unseal`: the current key) and
writes with a second set under the prefix `new_` (bot.db.install_vault). Call it inside one
transaction: stopped half-way, nothing has changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite

from bot.storage.addresses import PLACE as ADDRESS_PLACE
from bot.storage.addresses import opened_alamat
from bot.storage.conversations import RESEAL as CONVERSATIONS_RESEAL
from bot.storage.outbox import OPENED_PLAN, OPENED_TEXT, PLAN, PLAN_HASHED, REF_HEX
from bot.storage.residents import opened

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


async def stored_fingerprint(db: aiosqlite.Connection) -> str | None:
    """The fingerprint of the key the database is sealed with (None before any)."""
    rows = list(await db.execute_fetchall("SELECT fingerprint FROM vault_key WHERE id = 1"))
    return str(rows[0][0]) if rows else None


async def reseal_everything(db: aiosqlite.Connection, fingerprint: str, *, now: datetime) -> int:
    """Re-seal and re-hash every sealed value under the `new_` functions; return how many
    residents. Inside the caller's transaction."""
    for statement in _RESEAL:
        await db.execute(statement)
    await db.execute(
        "UPDATE vault_key SET fingerprint = ?, since = ? WHERE id = 1",
        (fingerprint, now.astimezone(UTC).isoformat()),
    )
    rows = list(await db.execute_fetchall("SELECT count(*) FROM residents"))
    return int(rows[0][0])
