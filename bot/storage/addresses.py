"""Residents' addresses, when the SIAK export carries them (issue 19): alamat sealed like the
name, bound to the resident's nik_ref; RT and RW in clear (see migration 0023)."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from bot.db import vault_of

# nik (in clear: this module hashes and seals), alamat, rt, rw; None where the export was empty
AddressRow = tuple[str, str | None, str | None, str | None]
PLACE = "resident_addresses.alamat_sealed"


def opened_alamat(alias: str = "a") -> str:
    """SQL for the address of the resident_addresses row `alias`, in clear (NULL if none)."""
    return f"unseal({alias}.alamat_sealed, '{PLACE}', {alias}.nik_ref)"


async def replace_addresses(db: aiosqlite.Connection, rows: Sequence[AddressRow]) -> None:
    """Store each resident's address as the export gives it (an empty one is kept empty).
    Call it inside the import's transaction: the residents may be written at its end."""
    vault = vault_of(db)
    stored = []
    for nik, alamat, rt, rw in rows:
        ref = vault.ref(nik)
        sealed = vault.seal(alamat, PLACE, ref) if alamat else None
        stored.append((ref, sealed, rt, rw))
    await db.executemany(
        "INSERT OR REPLACE INTO resident_addresses (nik_ref, alamat_sealed, rt, rw)"
        " VALUES (?, ?, ?, ?)",
        stored,
    )
