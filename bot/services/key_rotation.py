"""Rotating SECRET_KEY: every NIK, KK number and name re-sealed, every lookup hash re-derived.

One transaction, then the file is rebuilt (bot.db.rebuild_file): afterwards no value sealed
with the old key is left in the database file or its WAL, nor in a backup made from it (backups
made before still hold them, under the old key). On PostgreSQL the rewritten tables get a
VACUUM FULL after the transaction instead; WAL archives and base backups the IT section keeps
still hold the old values (under the old key) until they expire. Interrupted (killed, power
cut, a full disk), the database is still wholly under the old key, and running the rotation
again with the same new key finishes it. Run again after it finished, it changes nothing and
says the database is under the new key already.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.crypto import Vault
from bot.db import (
    WrongSecretKey,
    install_vault,
    mark_rebuild_pending,
    rebuild_file,
    transaction,
    vault_of,
)
from bot.engine import Connection, is_postgresql
from bot.storage import audit
from bot.storage import vault as store


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    old_fingerprint: str
    new_fingerprint: str
    residents: int
    already: bool = False  # the database was under the new key before this run


def read_or_create_key(path: Path) -> tuple[str, bool]:
    """The new key in `path`; made there first (mode 0600) if the file does not exist, so an
    interrupted rotation resumes with the same key. Returns (key, created)."""
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < 32:
            raise ValueError(f"{path} holds no usable key (at least 32 characters)")
        return key, False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key, True


async def rotate_key(db: Connection, new_secret: str, *, now: datetime) -> Rotation:
    """Re-seal the database opened with the current SECRET_KEY under `new_secret`.

    Afterwards the connection works with the new key (its vault, on SQLite its SQL functions,
    are replaced).
    """
    old, new = vault_of(db), Vault.from_secret(new_secret)
    stored = await store.stored_fingerprint(db)
    if stored == new.fingerprint:
        await _use(db, new)  # the connection goes on under the key the data has
        return Rotation(old.fingerprint, new.fingerprint, 0, already=True)
    if stored not in (None, old.fingerprint):
        raise WrongSecretKey(f"the database is sealed with key {stored}, not SECRET_KEY's")
    if new.fingerprint == old.fingerprint:
        raise ValueError("the new key is the key in use")
    if not is_postgresql(db):  # SQLite re-seals in SQL, with a second set of functions
        await install_vault(db, new, prefix="new_")
    async with transaction(db):
        residents = await store.reseal_everything(db, new, now=now)
        detail = f"from={old.fingerprint} to={new.fingerprint} residents={residents}"
        await audit.write_audit(db, None, "key:rotate", detail, now=now)
        if not is_postgresql(db):
            await mark_rebuild_pending(db)
    await _use(db, new)
    if is_postgresql(db):
        await store.vacuum_rewritten(db)  # no row sealed with the old key left in the tables
    else:
        await rebuild_file(db)  # no value sealed with the old key left in the file or its WAL
    return Rotation(old.fingerprint, new.fingerprint, residents)


async def _use(db: Connection, vault: Vault) -> None:
    """The connection reads and writes under `vault` from now on."""
    if is_postgresql(db):
        db.vault = vault
    else:
        await install_vault(db, vault)
