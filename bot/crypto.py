"""Encryption at rest: NIK, KK number and name are sealed with AES-GCM; NIK and KK are looked up
by a keyed hash (HMAC-SHA256), so the database holds none of them in clear.

Both keys come from `SECRET_KEY`: scrypt stretches it (a stolen database plus a guessable key
must still cost a lot per guess), then HKDF splits it into the sealing key and the lookup key.
The lookup hash is deterministic, so equal numbers match (joins, unique indexes); a sealed value
is not (a fresh random nonce each time), so it says nothing, not even which rows are equal.

Each sealed value is bound to its place, the table and column, and to its row (AES-GCM
associated data): moved into another row or column by someone who can write to the file, it no
longer opens (WrongKey), so the bot never shows one person's data as another's.

A connection opened by `bot.db.connect` has the vault's functions for SQL:
`ref_of(number)` (the lookup hash; used for KK numbers too), `seal(text, place, row)`,
`unseal(blob, place, row)`; `place` is 'table.column', `row` the row's stable identifier (a
resident's `nik_ref`, a message's `chat_id`).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

log = logging.getLogger(__name__)

NONCE_BYTES = 12
REF_BYTES = 32  # HMAC-SHA256, untruncated
# Bound to every sealed value: a blob sealed by another program or format version won't open.
_AAD = b"dukcapil-bot/sealed/v2"
_AAD_V1 = b"dukcapil-bot/sealed/v1"  # before migration 0015: not bound to a place or row
_SALT = b"dukcapil-bot/secret-key/v1"


class WrongKey(Exception):
    """A sealed value did not open: sealed under another key, altered, or moved from the place
    or row it was sealed for."""


@dataclass(frozen=True)
class Vault:
    """The keys derived from one SECRET_KEY."""

    seal_key: bytes = field(repr=False)
    ref_key: bytes = field(repr=False)

    @staticmethod
    def from_secret(secret_key: str) -> Vault:
        """The vault for this SECRET_KEY (derived once per process: scrypt is slow on purpose)."""
        return _derive(secret_key)

    @property
    def fingerprint(self) -> str:
        """A short public name of the key, stored in the database to catch a wrong SECRET_KEY."""
        return hmac.digest(self.ref_key, b"fingerprint", "sha256")[:8].hex()

    def ref(self, number: str) -> bytes:
        """The lookup hash of a NIK or KK number: HMAC-SHA256 of it under the lookup key."""
        mac = self._ref_mac.copy()
        mac.update(number.encode())
        return mac.finalize()

    def seal(self, text: str, place: str, row: Row) -> bytes:
        """nonce || AES-GCM ciphertext and tag of the text, bound to `place` ('table.column')
        and `row` (the row's stable identifier)."""
        nonce = _NONCES.take()
        return nonce + self._aead.encrypt(nonce, text.encode(), _bound(place, row))

    def sealer(self, place: str) -> Callable[[str, bytes], bytes]:
        """`seal` for one place, the row's identifier given as bytes: the same blobs, for
        sealing many values (an import seals millions) without working out each one's place."""
        encrypt, prefix = self._aead.encrypt, _place_prefix(place)
        pop, take = _NONCES.pop, _NONCES.take

        def seal(text: str, row: bytes) -> bytes:
            try:
                nonce = pop()
            except IndexError:  # the pool is empty: refill it
                nonce = take()
            return nonce + encrypt(nonce, text.encode(), prefix + row)

        return seal

    def open(self, blob: bytes, place: str, row: Row) -> str:
        """The text a `seal` blob holds; WrongKey when it is not ours, or not sealed for this
        place and row."""
        return self._open(blob, _bound(place, row))

    def open_v1(self, blob: bytes) -> str:
        """A value sealed before migration 0015 (bound to nothing): for that migration only."""
        return self._open(blob, _AAD_V1)

    def seal_v1(self, text: str) -> bytes:
        """Sealed as before migration 0015: for migration 0011, which runs before it."""
        nonce = _NONCES.take()
        return nonce + self._aead.encrypt(nonce, text.encode(), _AAD_V1)

    def _open(self, blob: bytes, aad: bytes) -> str:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad).decode()
        except InvalidTag as error:
            raise WrongKey(
                "a sealed value did not open: another SECRET_KEY, or altered or moved in the file"
            ) from error

    @cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self.seal_key)

    @cached_property
    def _ref_mac(self) -> HMAC:
        """The lookup key absorbed once: each hash continues a copy (0.8 against 2.1 us)."""
        return HMAC(self.ref_key, hashes.SHA256())

    # The SQL functions: NULL in, NULL out, so optional columns need no special case.

    def sql_ref(self, number: str | None) -> bytes | None:
        return None if number is None else self.ref(number)

    def sql_seal(self, text: str | None, place: str, row: Row) -> bytes | None:
        return None if text is None else self.seal(text, place, row)

    def sql_open(self, blob: bytes | None, place: str, row: Row) -> str | None:
        if blob is None:
            return None
        try:
            return self.open(blob, place, row)
        except WrongKey:
            # SQLite reports only "user-defined function raised exception": say where.
            log.error(
                "a sealed value in %s did not open: another key, or edited in the file", place
            )
            raise

    def sql_seal_v1(self, text: str | None) -> bytes | None:
        return None if text is None else self.seal_v1(text)

    def sql_open_v1(self, blob: bytes | None) -> str | None:
        return None if blob is None else self.open_v1(blob)


Row = bytes | int | str


def _bound(place: str, row: Row) -> bytes:
    """The associated data of a value sealed for `place` in `row` (NUL-separated: no place
    holds a NUL, and the row's identifier comes last)."""
    key = row if isinstance(row, bytes) else str(row).encode()
    return _place_prefix(place) + key


@lru_cache(maxsize=64)
def _place_prefix(place: str) -> bytes:
    return b"\0".join((_AAD, place.encode(), b""))


class _NoncePool:
    """Random 96-bit nonces, read from the OS in bulk: one getrandom call per 4,096 seals
    instead of one per seal (an import seals millions). Thread-safe without a lock (the event
    loop and the database thread both seal): `list.pop` is atomic, and two threads refilling at
    once only both read fresh random bytes. Emptied in a forked child, so it never reuses its
    parent's nonces.
    """

    def __init__(self, count: int = 4096) -> None:
        self._count = count
        self._pool: list[bytes] = []
        self.pop = self._pool.pop  # a nonce, or IndexError; the same list is refilled in place
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._pool.clear)

    def take(self) -> bytes:
        try:
            return self.pop()
        except IndexError:
            fresh = os.urandom(self._count * NONCE_BYTES)
            self._pool.extend(
                fresh[at : at + NONCE_BYTES] for at in range(0, len(fresh), NONCE_BYTES)
            )
            return self.take()


_NONCES = _NoncePool()


def webhook_secret(secret_key: str) -> str:
    """Telegram's webhook secret token by default: HKDF of the scrypt-stretched key, so a
    secret token seen on the wire costs a guesser of SECRET_KEY a full stretching per guess."""
    info = b"dukcapil-bot/telegram-webhook"
    stretched = _derive(secret_key).ref_key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(stretched).hex()


@lru_cache(maxsize=8)
def _derive(secret_key: str) -> Vault:
    if not secret_key:
        raise ValueError("SECRET_KEY is empty")
    master = Scrypt(salt=_SALT, length=32, n=2**15, r=8, p=1).derive(secret_key.encode())
    seal_key, ref_key = (
        HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)
        for info in (b"dukcapil-bot/aes-gcm", b"dukcapil-bot/hmac-sha256")
    )
    return Vault(seal_key, ref_key)
