"""What a successful status check leaves behind, and for how long.

A check (/cek, or NIK + KK typed inside a booking or report) proves the person holds the
numbers. The NIK then stays on the server behind a short button token, so the buttons under the
answer (link for reminders, book) and the "for whom?" list can use it without the NIK ever
travelling in callback data. That store is the account's `user_data` (PTB keeps it in memory):
each verification is honoured for VERIFIED_FOR, an account keeps at most MAX_VERIFIED (the
oldest go first), and the hourly housekeeping job forgets expired ones.

The database keeps a row per check (bot/storage/attempts.py) for the failed-check lockout. Of
the successful ones only each account's latest is kept (written over at each success), and
for SUCCESS_KEPT at most: enough to tell an account that checked lately from a fresh one.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from bot.db import transaction
from bot.engine import Connection
from bot.storage import attempts

VERIFIED_FOR = timedelta(minutes=15)
MAX_VERIFIED = 10  # per account: a household's members, checked one after another
SUCCESS_KEPT = timedelta(days=30)
_KEY = "verified"  # in user_data: {token: (nik, verified at)}, oldest first


def remember(data: MutableMapping[str, Any] | None, nik: str, *, now: datetime) -> str:
    """Keep `nik` verified for this account behind a new token, and return the token."""
    token = secrets.token_hex(4)
    if data is None:  # no account behind the update (a channel post): nothing to keep
        return token
    verified = data.setdefault(_KEY, {})
    verified[token] = (nik, now)
    while len(verified) > MAX_VERIFIED:
        del verified[next(iter(verified))]
    return token


def nik_for(data: Mapping[str, Any] | None, token: str, *, now: datetime) -> str | None:
    """The NIK verified behind `token`, if still fresh."""
    entry = (data or {}).get(_KEY, {}).get(token)
    if entry is None or now - entry[1] > VERIFIED_FOR:
        return None
    return str(entry[0])


def fresh_niks(data: Mapping[str, Any] | None, *, now: datetime) -> list[str]:
    """The NIKs this account verified within VERIFIED_FOR, oldest first, each once."""
    found = [nik for nik, at in (data or {}).get(_KEY, {}).values() if now - at <= VERIFIED_FOR]
    return list(dict.fromkeys(found))


def forget_expired(data: MutableMapping[str, Any], *, now: datetime) -> None:
    """Remove the verifications nobody may use any more (and the store once it is empty)."""
    verified = data.get(_KEY)
    if not isinstance(verified, dict):
        return
    for token, (_nik, at) in list(verified.items()):
        if now - at > VERIFIED_FOR:
            del verified[token]
    if not verified:
        del data[_KEY]


async def forget_old_checks(db: Connection, *, now: datetime) -> int:
    """Delete the successful checks older than SUCCESS_KEPT; return how many."""
    async with transaction(db):
        return await attempts.delete_successes_before(db, now - SUCCESS_KEPT)
