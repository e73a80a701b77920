"""The annual wajib-KTP cycle: cohort date, recording deadline, ages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain import Resident

WAJIB_KTP_AGE = 17


@dataclass(frozen=True)
class Cycle:
    """Cohort = wajib KTP on `cohort_date`; unrecorded by `deadline` may be deactivated."""

    cohort_date: date
    deadline: date


def cycle_in_force(today: date, *, deadline_month: int = 4, deadline_day: int = 30) -> Cycle:
    """The cycle whose recording deadline is the next 30 April (today included)."""
    deadline = date(today.year, deadline_month, deadline_day)
    if today > deadline:
        deadline = date(today.year + 1, deadline_month, deadline_day)
    return Cycle(cohort_date=date(deadline.year - 1, 12, 31), deadline=deadline)


def age_on(birth: date, day: date) -> int:
    """Completed years of age on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def birthday_at(birth: date, years: int) -> date:
    """The date someone born on `birth` turns `years` (29 February -> 1 March)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return date(birth.year + years, 3, 1)


def is_wajib_ktp(resident: Resident, day: date) -> bool:
    """17 or older on `day`, or married / ever married."""
    return age_on(resident.tanggal_lahir, day) >= WAJIB_KTP_AGE or (
        resident.status_kawin != "BELUM KAWIN"
    )
