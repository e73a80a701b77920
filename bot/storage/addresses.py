"""Residents' addresses, when the SIAK export carries them (issue 19): alamat sealed like the
name, bound to the resident's nik_ref; RT and RW in clear (see migration 0023)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.crypto import Vault
from bot.db import vault_of
from bot.engine import Connection

# nik (in clear: this module hashes and seals), alamat, rt, rw; None where the export was empty
AddressRow = tuple[str, str | None, str | None, str | None]
PLACE = "resident_addresses.alamat_sealed"


def opened_alamat(alias: str = "a") -> str:
    """SQL (SQLite) for the address of the resident_addresses row `alias`, in clear (NULL if
    none). On both engines: select `alamat_sealed` and `nik_ref`, then `open_alamat`."""
    return f"unseal({alias}.alamat_sealed, '{PLACE}', {alias}.nik_ref)"


def open_alamat(vault: Vault, blob: bytes | None, nik_ref: bytes) -> str | None:
    """The address of a resident_addresses row, in clear (None if none was given)."""
    return None if blob is None else vault.open(bytes(blob), PLACE, bytes(nik_ref))


async def replace_addresses(db: Connection, rows: Sequence[AddressRow]) -> None:
    """Store each resident's address as the export gives it (an empty one is kept empty).
    Call it inside the import's transaction: the residents may be written at its end."""
    vault = vault_of(db)
    seal = vault.sealer(PLACE)
    stored = []
    for nik, alamat, rt, rw in rows:
        ref = vault.ref(nik)
        stored.append((ref, seal(alamat, ref) if alamat else None, rt, rw))
    await db.executemany(
        "INSERT INTO resident_addresses (nik_ref, alamat_sealed, rt, rw) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (nik_ref) DO UPDATE SET alamat_sealed = excluded.alamat_sealed,"
        " rt = excluded.rt, rw = excluded.rw",
        stored,
    )
