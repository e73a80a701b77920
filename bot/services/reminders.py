"""Who is reminded of what, and when: the date rules of the reminder jobs.

- Teens: an unmarried resident, AKTIF and not recorded, turning 17 on B17 is reminded 30 days
  before B17, on B17, then monthly on B17's day of the month, until the deadline of the cycle
  they join (30 April after the year of B17), and 30/14/7/3/1 days before that deadline.
- Deadline: every other resident wajib KTP on the cohort date of the cycle in force (17 by
  31 December, or married), AKTIF and not recorded, 30/14/7/3/1 days before its deadline.
  The cycle's own teens are left to the teen rule, so nobody gets both on one day.
- Deactivated: a NONAKTIF resident not recorded, on the day of deactivation and every 30 days.
- Elsewhere: a resident the chat reported living in another regency or city is reminded on the
  same days, told how to record there (luar domisili); one reported abroad gets the office's
  advice to contact it and no countdown: of the 30/14/7/3/1 days before a deadline only the
  first is kept (bot/services/elsewhere.py).

A run plans the due points that fell in [since, today] (more than one day only after the bot
was down): at most one message per resident and chat, keyed by the latest of those points.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.crypto import Vault
from bot.domain import HOLDING_STATES, Booking
from bot.engine import Connection
from bot.places import Place
from bot.services import outbox
from bot.services.cycle import WAJIB_KTP_AGE, Cycle, age_on, birthday_at, cycle_in_force
from bot.storage import bookings
from bot.storage import reminders as store
from bot.storage.reminders import LinkedResident

COUNTDOWN_DAYS = (30, 14, 7, 3, 1)  # reminders this many days before a deadline
TEEN_LEAD = timedelta(days=30)  # the first teen reminder, before the 17th birthday
DEACTIVATED_EVERY = 30  # days between reminders to a deactivated resident


@dataclass(frozen=True)
class Reminder:
    """One reminder about one resident to one chat, as the templates read it."""

    kind: str  # teen / deadline / deactivated
    chat_id: int
    nik: str
    name: str
    due: date  # the due point it stands for (its idempotency key)
    today: date  # the day it is written for
    turns_17_on: date | None = None
    deadline: date | None = None
    deactivated_on: date | None = None
    locale: str | None = None  # the chat's language, as the query found it
    nik_ref: bytes = b""  # the NIK's lookup hash: the outbox plan holds it instead of the NIK
    elsewhere: Place | None = None  # where the chat reported the resident lives, if it did

    def key(self, vault: Vault) -> str:
        """The outbox key: one message per kind, resident, chat and due point."""
        return outbox.reminder_key(vault, self.kind, self.nik_ref, self.chat_id, self.due)

    @property
    def plan(self) -> str:
        """What the key stands for, sealed beside it in the outbox."""
        return outbox.reminder_plan(self.kind, self.nik_ref, self.chat_id, self.due)

    @property
    def days_left(self) -> int:
        """Days from today to the deadline (0 on the day itself)."""
        return (self.deadline - self.today).days if self.deadline else 0

    @property
    def abroad(self) -> bool:
        """Reported living abroad: the office's advice instead of a visit, no countdown."""
        return self.elsewhere is not None and self.elsewhere.kind == "abroad"

    @property
    def counts_down(self) -> bool:
        """Due on a countdown day after the first (14, 7, 3 or 1 days before the deadline)."""
        return self.deadline is not None and self.due in countdown_points(self.deadline)[1:]

    @property
    def stage(self) -> str:
        """For a teen: 'before', 'birthday' or 'after' their 17th birthday."""
        if self.turns_17_on is None or self.today > self.turns_17_on:
            return "after"
        return "birthday" if self.today == self.turns_17_on else "before"


# --- the pure date rules ---


def teen_deadline(birth: date) -> date:
    """The recording deadline of the cycle a teen joins by turning 17."""
    turns_17 = birthday_at(birth, WAJIB_KTP_AGE)
    return cycle_in_force(date(turns_17.year, 12, 31)).deadline


def countdown_points(deadline: date) -> list[date]:
    """30, 14, 7, 3 and 1 days before the deadline, earliest first."""
    return [deadline - timedelta(days=n) for n in COUNTDOWN_DAYS]


def monthly_after(start: date, until: date) -> list[date]:
    """`start`'s day of the month (the month's last day when shorter) in each later month,
    up to `until` inclusive."""
    points: list[date] = []
    year, month = start.year, start.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        point = date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
        if point > until:
            return points
        points.append(point)


def teen_due_points(birth: date) -> list[date]:
    """Every teen reminder day of someone born on `birth`, in order, each once."""
    turns_17 = birthday_at(birth, WAJIB_KTP_AGE)
    deadline = teen_deadline(birth)
    points = {turns_17 - TEEN_LEAD, turns_17, *monthly_after(turns_17, deadline)}
    return sorted(points | set(countdown_points(deadline)))


def latest_due(points: Iterable[date], *, since: date, today: date) -> date | None:
    """The latest point in [since, today], or None."""
    return max((point for point in points if since <= point <= today), default=None)


def teen_due(birth: date, *, since: date, today: date) -> date | None:
    """The teen reminder due in [since, today] (none once the teen's deadline has passed)."""
    if today > teen_deadline(birth):
        return None
    return latest_due(teen_due_points(birth), since=since, today=today)


def is_deadline_subject(birth: date, status_kawin: str, cycle: Cycle) -> bool:
    """Wajib KTP on the cycle's cohort date and not one of the cycle's teens."""
    if status_kawin != "BELUM KAWIN":
        return True
    wajib = age_on(birth, cycle.cohort_date) >= WAJIB_KTP_AGE
    return wajib and teen_deadline(birth) != cycle.deadline


def deadline_due(cycle: Cycle, *, since: date, today: date) -> date | None:
    """The countdown point of the cycle due in [since, today] (none after its deadline)."""
    if today > cycle.deadline:
        return None
    return latest_due(countdown_points(cycle.deadline), since=since, today=today)


def deactivated_due(deactivated_on: date, *, since: date, today: date) -> date | None:
    """The latest of deactivated_on + 30·k days (k ≥ 0) in [since, today], or None."""
    if today < deactivated_on:
        return None
    latest = today - timedelta(days=(today - deactivated_on).days % DEACTIVATED_EVERY)
    return latest if latest >= since else None


def teen_birth_window(*, since: date, today: date) -> tuple[date, date]:
    """Birth dates whose teen reminders can fall in [since, today] (a superset, for the query):
    turning 17 no later than 30 days after today, in a year whose deadline is not yet past."""
    first_year = cycle_in_force(since).deadline.year - 1  # the cohort of the earliest deadline
    latest_b17 = today + TEEN_LEAD
    try:
        born_until = latest_b17.replace(year=latest_b17.year - WAJIB_KTP_AGE)
    except ValueError:  # 29 February
        born_until = date(latest_b17.year - WAJIB_KTP_AGE, 2, 28)
    return date(first_year - WAJIB_KTP_AGE, 1, 1), born_until


# --- the reminders due on a day ---


async def teen_reminders(db: Connection, *, since: date, today: date) -> list[Reminder]:
    """Teen reminders due in [since, today] to each chat linked to an unrecorded teen."""
    born_from, born_until = teen_birth_window(since=since, today=today)
    people = await store.linked_unrecorded_teens(db, born_from=born_from, born_until=born_until)
    due = []
    for person in people:
        point = teen_due(person.tanggal_lahir, since=since, today=today)
        if point is not None:
            turns_17 = birthday_at(person.tanggal_lahir, WAJIB_KTP_AGE)
            deadline = teen_deadline(person.tanggal_lahir)
            due.append(
                _reminder("teen", person, point, today, turns_17_on=turns_17, deadline=deadline)
            )
    return _without_countdowns_abroad(due)


async def deadline_reminders(db: Connection, *, since: date, today: date) -> list[Reminder]:
    """Countdown reminders due in [since, today] to each chat linked to an unrecorded wajib-KTP
    resident of the cycle in force (its teens excepted)."""
    cycle = cycle_in_force(today)
    point = deadline_due(cycle, since=since, today=today)
    if point is None:
        return []
    # Unmarried and born before 1 January (cohort year - 17): 17 before the cohort's year.
    born_before = date(cycle.cohort_date.year - WAJIB_KTP_AGE, 1, 1)
    people = await store.linked_unrecorded_wajib(db, unmarried_born_before=born_before)
    return _without_countdowns_abroad(
        [
            _reminder("deadline", person, point, today, deadline=cycle.deadline)
            for person in people
            if is_deadline_subject(person.tanggal_lahir, person.status_kawin, cycle)
        ]
    )


def _without_countdowns_abroad(due: list[Reminder]) -> list[Reminder]:
    """Someone reported abroad is not counted down to a deadline they cannot travel for."""
    return [reminder for reminder in due if not (reminder.abroad and reminder.counts_down)]


async def deactivated_reminders(db: Connection, *, since: date, today: date) -> list[Reminder]:
    """Reminders due in [since, today] to each chat linked to a deactivated, unrecorded NIK."""
    people = await store.linked_deactivated(
        db, since=since, today=today, every_days=DEACTIVATED_EVERY
    )
    due = []
    for person in people:
        day = person.deactivated_on
        point = deactivated_due(day, since=since, today=today) if day else None
        if point is not None:
            due.append(_reminder("deactivated", person, point, today, deactivated_on=day))
    return due


async def bookings_to_remind(
    db: Connection, *, day: date, starting_after: datetime
) -> list[Booking]:
    """The day's bookings that still hold a place (pending/confirmed) and start later."""
    active = await bookings.list_active_between(db, None, day, day)
    return [b for b in active if b.state in HOLDING_STATES and b.start_at > starting_after]


def booking_reminder_key(booking: Booking, moment: str) -> str:
    """`booking:<id>:<eve|morning>:<start>`: a moved booking is reminded of its new time only.

    Cancelling or moving a booking withdraws its queued ones by the `booking:<id>:` prefix.
    """
    return f"booking:{booking.id}:{moment}:{booking.start_at.isoformat()}"


def _reminder(
    kind: str,
    person: LinkedResident,
    due: date,
    today: date,
    *,
    turns_17_on: date | None = None,
    deadline: date | None = None,
    deactivated_on: date | None = None,
) -> Reminder:
    return Reminder(
        kind=kind,
        chat_id=person.chat_id,
        nik=person.nik,
        name=person.nama,
        due=due,
        today=today,
        turns_17_on=turns_17_on,
        deadline=deadline,
        deactivated_on=deactivated_on,
        locale=person.locale,
        nik_ref=person.nik_ref,
        elsewhere=Place.from_key(person.elsewhere) if person.elsewhere else None,
    )
