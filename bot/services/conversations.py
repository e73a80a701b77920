"""Conversations kept in the database between updates: where a person is in each flow, and what
the flows have collected (PTB's user_data and chat_data), sealed, with an expiry.

bot/conversations.py loads what one update may use before the update is handled (`load`) and
writes back what it left (`keep`) in one transaction with the update's "handled" mark. Values
are JSON through a small explicit codec (no pickle: a value is data, never code): besides JSON's
own types it keeps tuples, sets, dates, datetimes, dicts with non-text keys and the dataclasses
named in KEPT_TYPES; anything else is refused when it is written, so a flow cannot quietly store
what would not come back. Each value is sealed as a whole (a draft may hold a NIK or a name),
bound to its row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.crypto import WrongKey
from bot.db import transaction, vault_of
from bot.domain import Booking, KeptFlow
from bot.engine import Connection
from bot.services import tickets
from bot.services.updates import record
from bot.storage import conversations as store
from bot.storage.conversations import CHAT, NOBODY, USER

log = logging.getLogger(__name__)

# How long flow data outlives the last update, and the end of its account's longest live
# conversation (so that a flow's timeout still finds its draft, e.g. the step to close).
DATA_KEPT = timedelta(minutes=15)
# Dataclasses a flow may keep, by a stable name (the name is stored, never a Python path).
KEPT_TYPES: dict[str, type] = {"attachment": tickets.Attachment, "booking": Booking}


@dataclass
class Kept:
    """What one update may use: live states by conversation name, the names whose state
    expired (their timeout is due), and the account's and the chat's flow data."""

    states: dict[str, object] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)
    user_data: dict[str, Any] = field(default_factory=dict)
    chat_data: dict[str, Any] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)  # names of the rows read, expired included
    texts: dict[str, str] = field(default_factory=dict)  # the JSON read, to see what changed
    handled: bool = False  # the update loaded for was handled already (a re-delivery)
    blocked: bool = False  # the chat is recorded as having blocked the bot (bot/services/outbox)


async def load(
    db: Connection, chat_id: int, user_id: int, *, now: datetime, update_id: int = 0
) -> Kept:
    """The rows of `user_id` in `chat_id` (either NOBODY), opened; past their expiry: states
    are reported in `expired`, data is dropped. Read with them: whether update `update_id`
    (0: none) was handled already (bot/services/updates.py), and whether the chat blocked the
    bot (bot/services/outbox.py)."""
    rows, marks = await store.rows_of(db, chat_id, user_id, update_id=update_id)
    kept = Kept(handled=store.HANDLED in marks, blocked=store.BLOCKED in marks)
    for row in rows:
        kept.stored.add(row.name)
        text = _open(db, row)
        if text is None:
            continue
        if row.expires_at <= now:
            if row.name not in (USER, CHAT):
                kept.expired.add(row.name)
            continue
        kept.texts[row.name] = text
        value = decode(text)
        if row.name == USER:
            kept.user_data = value
        elif row.name == CHAT:
            kept.chat_data = value
        else:
            kept.states[row.name] = value
    return kept


async def keep(
    db: Connection,
    chat_id: int,
    user_id: int,
    kept: Kept,
    *,
    states: Mapping[str, tuple[object, timedelta]],
    user_data: Mapping[str, Any],
    chat_data: Mapping[str, Any],
    update_id: int | None,
    now: datetime,
) -> None:
    """Write what the update left, and mark it handled, in one transaction.

    `states`: each live conversation's state and timeout. Every row still in use gets a fresh
    expiry (a timeout counts from the last update); rows no longer in use are deleted. Nothing
    is written for an update that left nothing and found nothing (besides its mark)."""
    values: dict[str, tuple[str, datetime]] = {
        name: (encode(state), now + timeout) for name, (state, timeout) in states.items()
    }
    data_until = max([now, *(until for _, until in values.values())]) + DATA_KEPT
    if user_data and user_id != NOBODY:
        values[USER] = (encode(dict(user_data)), data_until)
    if chat_data and chat_id != NOBODY:
        values[CHAT] = (encode(dict(chat_data)), data_until)
    gone = kept.stored - values.keys()
    if update_id is None and not values and not gone:
        return
    async with transaction(db):
        if update_id is not None:
            await record(db, update_id, now=now)
        if values:  # each statement only when it has rows: on PostgreSQL it is a round trip
            await store.put_rows(
                db, [_sealed(db, chat_id, user_id, n, *v) for n, v in values.items()]
            )
        if gone:
            await store.delete_rows(db, [_key(chat_id, user_id, name) for name in gone])


async def expired_states(db: Connection, *, now: datetime) -> list[tuple[int, int, str]]:
    """(chat_id, user_id, conversation name) of the states past their expiry."""
    return await store.expired_states(db, now)


async def forget_expired(db: Connection, *, now: datetime) -> int:
    """Delete every row past its expiry (states and data); return how many."""
    async with transaction(db):
        return await store.delete_expired(db, now)


def _key(chat_id: int, user_id: int, name: str) -> tuple[int, int, str]:
    """A row's primary key: data rows name only their account or their chat."""
    if name == USER:
        return (NOBODY, user_id, name)
    if name == CHAT:
        return (chat_id, NOBODY, name)
    return (chat_id, user_id, name)


def _sealed(
    db: Connection, chat_id: int, user_id: int, name: str, text: str, until: datetime
) -> KeptFlow:
    chat, user, _ = _key(chat_id, user_id, name)
    sealed = vault_of(db).seal(text, store.PLACE, store.row_key(chat, user, name))
    return KeptFlow(chat, user, name, sealed, until)


def _open(db: Connection, row: KeptFlow) -> str | None:
    key = store.row_key(row.chat_id, row.user_id, row.name)
    try:
        return vault_of(db).open(row.sealed, store.PLACE, key)
    except WrongKey:  # altered or moved in the file: as if it were not there
        log.warning("a kept conversation (%s) did not open; it is dropped", row.name)
        return None


# --- the codec ---


def encode(value: object) -> str:
    """JSON text of a value a flow keeps; TypeError for a type the codec does not know."""
    return json.dumps(_tagged(value), ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> Any:
    """The value `encode` wrote."""
    return json.loads(text, object_hook=_untagged)


_TYPE_NAMES = {kind: name for name, kind in KEPT_TYPES.items()}


def _tagged(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_tagged(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"$set": [_tagged(v) for v in value]}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _tagged(v) for k, v in value.items()}
        return {"$map": [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    name = _TYPE_NAMES.get(type(value))
    if name is not None and is_dataclass(value):
        return {
            "$type": name,
            "fields": {f.name: _tagged(getattr(value, f.name)) for f in fields(value)},
        }
    raise TypeError(f"a conversation cannot keep a {type(value).__name__}: add it to the codec")


def _untagged(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((tag, inner),) = obj.items()
        if tag == "$tuple":
            return tuple(inner)
        if tag == "$set":
            return set(inner)
        if tag == "$datetime":
            return datetime.fromisoformat(inner)
        if tag == "$date":
            return date.fromisoformat(inner)
        if tag == "$map":
            return {_hashable(k): v for k, v in inner}
    if obj.keys() == {"$type", "fields"}:
        return KEPT_TYPES[obj["$type"]](**obj["fields"])
    return obj


def _hashable(key: Any) -> Any:
    """A map's key as it was (a list only where a tuple was decoded as such already)."""
    return tuple(key) if isinstance(key, list) else key
