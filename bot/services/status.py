"""The status check: proof of NIK + KK, then what the resident's situation is."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime

from bot.domain import Resident
from bot.engine import Connection
from bot.nik import normalize_number, parse_nik, validate_kk
from bot.services.burst import BurstAlert, CheckLimits
from bot.services.cycle import (
    WAJIB_KTP_AGE,
    Cycle,
    age_on,
    birthday_at,
    cycle_in_force,
    is_wajib_ktp,
)
from bot.services.lockout import admit, record_check
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
    db: Connection,
    user_id: int,
    nik_text: str,
    kk_text: str,
    *,
    limits: CheckLimits,
    alert: BurstAlert | None = None,
    now: datetime,
    today: date,
) -> Status | None:
    """Verify NIK + KK for this account; None (same for unknown NIK and wrong KK) on failure.

    A locked account is refused first (CheckLocked), then the numbers' format is checked
    (InvalidNik), then during a burst an account whose turn has not come is told when it comes
    (ChecksSlowed). A failure runs the same statements whichever number was wrong, and may
    open a burst (the admins are alerted through `alert`)."""
    admission = await admit(db, user_id, limits, now=now)
    nik = check_nik_format(nik_text, today=today)
    kk = validate_kk(kk_text)
    admission.ensure_turn()
    resident = await get_resident(db, nik)
    expected = resident.no_kk if resident else _DUMMY_KK
    matched = hmac.compare_digest(expected.encode(), kk.encode()) and resident is not None
    await record_check(db, user_id, admission, limits, succeeded=matched, alert=alert, now=now)
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
