"""May this account check now? Failed status checks are limited per Telegram account (default
5 per hour), and during a regency-wide burst of failures a new account that failed waits its
turn (bot/services/burst.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.db import transaction
from bot.engine import Connection
from bot.errors import CheckLocked
from bot.services import burst
from bot.services.burst import CheckLimits, ChecksSlowed
from bot.storage.attempts import Gate, end_hold, read_gate, record_attempt

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Admission:
    """An account that is not locked out; `wait_until` is set when a burst makes it wait."""

    gate: Gate
    burst_on: bool
    wait_until: datetime | None

    def ensure_turn(self) -> None:
        """Raise ChecksSlowed when the account's turn has not come yet."""
        if self.wait_until is not None:
            raise ChecksSlowed(until=burst.shown_time(self.wait_until))


async def admit(db: Connection, user_id: int, limits: CheckLimits, *, now: datetime) -> Admission:
    """Raise CheckLocked (with `until`) when the account used up its failed checks this hour
    (two only during a burst). During a burst, start the wait of an account that is slowed if
    it has none: the Admission says until when it waits."""
    gate = await read_gate(
        db, user_id, hour_ago=now - WINDOW, window_start=now - limits.burst_window
    )
    on = burst.burst_on(gate.burst, now)
    limit = limits.account_limit(burst_on=on)
    if len(gate.failures) >= limit:
        raise CheckLocked(until=gate.failures[-limit] + WINDOW)
    if not on or not burst.slowed(gate):
        return Admission(gate, burst_on=on, wait_until=None)
    turn = burst.turn_at(gate.hold, limits, now)
    if turn is None:
        async with transaction(db):
            await burst.take_turn(db, user_id, limits, now=now)
        turn = now + limits.burst_delay
    return Admission(gate, burst_on=True, wait_until=turn if turn > now else None)


async def ensure_not_locked(
    db: Connection, user_id: int, limits: CheckLimits, *, now: datetime
) -> None:
    """At the start of a check: refuse a locked account; during a burst the wait starts here,
    so it passes while the NIK and KK are typed."""
    await admit(db, user_id, limits, now=now)


async def record_check(
    db: Connection,
    user_id: int,
    admission: Admission,
    limits: CheckLimits,
    *,
    succeeded: bool,
    alert: burst.BurstAlert | None,
    now: datetime,
) -> None:
    """Write the attempt; after a failure, watch for a burst. The same statements for every
    failure, whatever failed."""
    async with transaction(db):
        await record_attempt(db, user_id, succeeded=succeeded, now=now)
        if admission.burst_on:  # the turn is used: the next check waits again
            await end_hold(db, user_id)
        if not succeeded:
            await burst.note_failure(db, admission.gate, limits, alert, now=now)
