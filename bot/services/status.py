"""The status check: proof of NIK + KK, then what the resident's situation is."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from bot.db import transaction
from bot.domain import Resident
from bot.nik import normalize_number, parse_nik, validate_kk
from bot.services.cycle import (
    WAJIB_KTP_AGE,
    Cycle,
    age_on,
    birthday_at,
    cycle_in_force,
    is_wajib_ktp,
)
from bot.services.lockout import ensure_not_locked
from bot.storage.attempts import record_attempt
from bot.storage.residents import get_resident

# Compared against when the NIK is unknown, so both failures do the same work.
_DUMMY_KK = "0" * 16


@dataclass(frozen=True)
class Status:
    """What a verified resident is told."""

    resident: Resident
    situation: str  # deactivated / unrecorded / turning_17 / recorded / not_yet
    age: int
    turns_17_on: date
    cycle: Cycle

    @property
    def can_book(self) -> bool:
        """Whether a visit for recording is the next step."""
        return self.situation in ("deactivated", "unrecorded", "turning_17")


def check_nik_format(text: str, *, today: date) -> str:
    """The normalized NIK, or InvalidNik saying what is wrong with it."""
    return parse_nik(normalize_number(text), today=today).value


async def check_status(
    db: aiosqlite.Connection,
    user_id: int,
    nik_text: str,
    kk_text: str,
    *,
    limit: int,
    now: datetime,
    today: date,
) -> Status | None:
    """Verify NIK + KK for this account; None (same for unknown NIK and wrong KK) on failure."""
    await ensure_not_locked(db, user_id, limit=limit, now=now)
    nik = check_nik_format(nik_text, today=today)
    kk = validate_kk(kk_text)
    resident = await get_resident(db, nik)
    expected = resident.no_kk if resident else _DUMMY_KK
    matched = hmac.compare_digest(expected.encode(), kk.encode()) and resident is not None
    async with transaction(db):
        await record_attempt(db, user_id, succeeded=matched, now=now)
    if not matched or resident is None:
        return None
    return describe(resident, today=today)


def describe(resident: Resident, *, today: date) -> Status:
    """Classify a resident's situation for the status answer."""
    cycle = cycle_in_force(today)
    return Status(
        resident=resident,
        situation=_situation(resident, today, cycle),
        age=age_on(resident.tanggal_lahir, today),
        turns_17_on=birthday_at(resident.tanggal_lahir, WAJIB_KTP_AGE),
        cycle=cycle,
    )


def _situation(resident: Resident, today: date, cycle: Cycle) -> str:
    if not resident.active:
        return "deactivated"
    if resident.recorded:
        return "recorded"
    if is_wajib_ktp(resident, today):
        return "unrecorded"
    if is_wajib_ktp(resident, cycle.cohort_date):
        return "turning_17"
    return "not_yet"
