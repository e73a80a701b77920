"""The destruction register: an admin records batches of received damaged cards destroyed.

A card is in at most one batch: the schema keeps one nullable `batch_id` per received card, set
by a conditional UPDATE (`WHERE batch_id IS NULL`) and never changed afterwards. A batch naming
any card that is not waiting is refused as a whole, in one transaction, so nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.config import TIMEZONE
from bot.domain import RoleUser
from bot.engine import Connection
from bot.errors import DomainError
from bot.services.audit import audited, record_audit
from bot.services.schedule import wib_day
from bot.services.staff_actions import require_role
from bot.services.tickets import normalize_number
from bot.storage import destruction
from bot.storage.destruction import Batch

TEXT_MAX = 200
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")


class DestructionError(DomainError):
    """A destruction-register rule said no; `kind` picks the sentence the admin reads."""

    template = "admin/destruction_error.html"
    kind = "nothing"


class InvalidBatch(DestructionError):
    """`kind` method / witnesses (empty or over `max_len`) or date (future or unreadable)."""

    kind = "date"


class CardsNotWaiting(DestructionError):
    """`numbers`: the named tickets whose card was already destroyed or never received."""

    kind = "not_waiting"


class NothingToDestroy(DestructionError):
    """No card is waiting (or no ticket number was named)."""

    kind = "nothing"


@dataclass(frozen=True)
class DestructionSummary:
    """Cards still waiting, every batch with its count, and cards destroyed per year."""

    waiting: int
    batches: list[Batch]
    per_year: dict[int, int]


async def record_batch(
    db: Connection,
    *,
    admin: RoleUser | None,
    destroyed_on: date,
    method: str,
    witnesses: str,
    ticket_numbers: list[str] | None,
    now: datetime,
) -> Batch:
    """Record a destruction of every waiting card (None) or exactly the named tickets' cards."""
    numbers = None if ticket_numbers is None else _numbers(ticket_numbers)
    target = f"destroyed_on={destroyed_on.isoformat()} named={_count_label(numbers)}"
    async with audited(db, admin, "destruction:batch", target, now=now):
        user = require_role(admin, "admin")
        batch_id = await _insert_batch(db, user, destroyed_on, method, witnesses, now=now)
        count = await _fill(db, batch_id, numbers, received_by=_day_end(destroyed_on))
        detail = f"batch={batch_id} {target} cards={count}"
        await record_audit(db, admin, "destruction:batch", detail, now=now)
        batch = await destruction.get_batch(db, batch_id)
    assert batch is not None
    return batch


async def destruction_summary(db: Connection) -> DestructionSummary:
    """How many received cards wait, and how many were destroyed per batch and per year."""
    return DestructionSummary(
        waiting=await destruction.count_waiting(db),
        batches=await destruction.list_batches(db),
        per_year=await destruction.destroyed_per_year(db),
    )


def parse_batch_date(text: str) -> date:
    """`2026-11-24`, `24-11-2026` or `24/11/2026`; else InvalidBatch(kind="date")."""
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).date()  # noqa: DTZ007 (a date only)
        except ValueError:
            continue
    raise InvalidBatch(kind="date", max_len=TEXT_MAX)


# --- the rules ---


def _text(value: str, kind: str) -> str:
    """Trimmed method or witnesses, 1-200 characters; else InvalidBatch(kind=kind)."""
    text = " ".join(value.split())
    if not 1 <= len(text) <= TEXT_MAX:
        raise InvalidBatch(kind=kind, max_len=TEXT_MAX)
    return text


def _check_date(day: date, *, now: datetime) -> None:
    """A destruction has happened: not after today (WIB)."""
    if day > wib_day(now):
        raise InvalidBatch(kind="date", max_len=TEXT_MAX)


def _numbers(texts: list[str]) -> list[str]:
    """Normalised ticket numbers, each once, blanks dropped, in the order given."""
    return list(dict.fromkeys(normalize_number(t) for t in texts if t.strip()))


def _count_label(numbers: list[str] | None) -> str:
    return "all_waiting" if numbers is None else str(len(numbers))


async def _insert_batch(
    db: Connection,
    user: RoleUser,
    destroyed_on: date,
    method: str,
    witnesses: str,
    *,
    now: datetime,
) -> int:
    """Check the batch's details and insert it, still empty."""
    method, witnesses = _text(method, "method"), _text(witnesses, "witnesses")
    _check_date(destroyed_on, now=now)
    return await destruction.insert_batch(
        db,
        destroyed_on=destroyed_on,
        method=method,
        witnesses=witnesses,
        created_by=user.telegram_id,
        now=now,
    )


def _day_end(day: date) -> datetime:
    """The last instant of a WIB day: a card received later cannot be in that day's batch."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=TIMEZONE) - timedelta(
        microseconds=1
    )


async def _fill(
    db: Connection, batch_id: int, numbers: list[str] | None, *, received_by: datetime
) -> int:
    """Put the cards in the batch; a card not waiting refuses the whole batch."""
    if numbers is None:
        count = await destruction.assign_all_waiting(db, batch_id, received_by=received_by)
    else:
        count = (
            await destruction.assign_waiting(db, batch_id, numbers, received_by=received_by)
            if numbers
            else 0
        )
        if numbers and count != len(numbers):
            raise CardsNotWaiting(numbers=await destruction.not_in_batch(db, batch_id, numbers))
    if count == 0:
        raise NothingToDestroy()
    return count
