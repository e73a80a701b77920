"""Every figure the bot reports, defined once: /statistik, /rekap and the digests read them here.

A scope is the regency, a kecamatan, a desa or a service point. An area's figures are about its
residents, and the bookings and tickets of those residents; a service point's are about the
residents of its kecamatan and the bookings and tickets at the point. The activity figures
(reminded, booked, came, recorded, no-show) count what falls in a period of days; recordings
are about residents at every level, those made at a mobile recording drive counted apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.domain import TICKET_STATES, Area, ServicePoint
from bot.engine import Connection
from bot.services.cycle import WAJIB_KTP_AGE, Cycle, birthday_at, cycle_in_force
from bot.storage import figures as store
from bot.storage.areas import get_area
from bot.storage.service_points import get_service_point
from bot.storage.stats import Ages, area_range

REGENCY_CODE = "3505"
ACTIVITY_DAYS = 30  # the period of /rekap's and /statistik's activity figures
CAME = ("checked_in", "recorded", "handed_over")  # the resident came to the point
CLOSED_TICKETS = ("handed_over", "rejected")


@dataclass(frozen=True)
class Scope:
    """What figures are about: an area's residents, or a service point (and its kecamatan's)."""

    area: Area
    point: ServicePoint | None = None


@dataclass(frozen=True)
class Reach:
    """How many residents are in a group, and how many of them the bot can reach."""

    total: int
    linked: int

    @property
    def unreachable(self) -> int:
        """Those only a door-to-door visit reaches."""
        return self.total - self.linked


@dataclass(frozen=True)
class Figures:
    """One scope's figures on `today`; the activity ones for days `first` to `last`."""

    scope: Scope
    cycle: Cycle
    first: date
    last: date
    residents: int
    wajib_ktp: int
    unrecorded_wajib: Reach
    turning_17_recorded: Reach
    turning_17_unrecorded: Reach
    deactivated: Reach
    reactivated: int  # deactivated once, active again
    linked: int  # residents the bot can reach (a link with reminders on, chat not blocked)
    outreach: int  # residents of a group the bot cannot reach: the outreach list
    reminded: int  # residents sent a reminder due in the period
    recorded: int  # e-KTP recordings dated in the period
    recorded_at_drives: int  # of those, made at a mobile recording drive (perekaman keliling)
    bookings: dict[str, int] = field(default_factory=dict)  # for days in the period, per state
    tickets: dict[str, int] = field(default_factory=dict)  # every state, in TICKET_STATES order

    @property
    def teen_year(self) -> int:
        """The year in which the cycle's teens turn 17."""
        return self.cycle.cohort_date.year

    @property
    def turning_17(self) -> int:
        """Residents turning 17 this cycle, recorded or not."""
        return self.turning_17_recorded.total + self.turning_17_unrecorded.total

    @property
    def in_groups(self) -> int:
        """Residents counted in a group an official acts on (a resident may be in two)."""
        groups = (self.unrecorded_wajib, self.turning_17_unrecorded, self.deactivated)
        return sum(group.total for group in groups)

    @property
    def recorded_at_offices(self) -> int:
        """Recordings dated in the period not made at a drive: at an office (or a TLA)."""
        return self.recorded - self.recorded_at_drives

    @property
    def booked(self) -> int:
        """Bookings for a day in the period, whatever became of them."""
        return sum(self.bookings.values())

    @property
    def came(self) -> int:
        """Bookings in the period whose resident came (checked in, recorded, handed over)."""
        return sum(self.bookings.get(state, 0) for state in CAME)

    @property
    def no_show(self) -> int:
        """Bookings in the period whose resident did not come."""
        return self.bookings.get("no_show", 0)

    @property
    def open_tickets(self) -> int:
        """Tickets neither handed over nor rejected."""
        return sum(n for state, n in self.tickets.items() if state not in CLOSED_TICKETS)


async def area_scope(db: Connection, code: str) -> Scope:
    """The scope of an area by plain code (the regency, a kecamatan, a desa)."""
    area = await get_area(db, code)
    if area is None:
        raise LookupError(f"unknown area {code}")
    return Scope(area)


async def point_scope(db: Connection, point: ServicePoint | str) -> Scope:
    """The scope of a service point (by code or as read): its kecamatan's residents."""
    if isinstance(point, str):
        found = await get_service_point(db, point)
        if found is None:
            raise LookupError(f"unknown service point {point}")
        point = found
    return Scope((await area_scope(db, point.kecamatan_code)).area, point)


def ages_on(today: date) -> Ages:
    """Birth-date bounds of the groups today: adults, and the cycle's teens turning 17."""
    teen_to = _born_by(cycle_in_force(today).cohort_date)
    return Ages(adult=_born_by(today), teen_from=teen_to.replace(month=1, day=1), teen_to=teen_to)


def last_days(today: date, days: int = ACTIVITY_DAYS) -> tuple[date, date]:
    """The period of `days` days ending today."""
    return today - timedelta(days=days - 1), today


async def figures(
    db: Connection,
    scope: Scope,
    *,
    today: date,
    first: date | None = None,
    last: date | None = None,
) -> Figures:
    """The scope's figures on `today`; activity from `first` to `last` (default: 30 days)."""
    (found,) = await figures_of_parts(db, [scope], today=today, first=first, last=last)
    return found


async def figures_of_parts(
    db: Connection,
    scopes: Sequence[Scope],
    *,
    today: date,
    first: date | None = None,
    last: date | None = None,
) -> list[Figures]:
    """The figures of each scope, in order, as `figures` gives them one by one: the sent
    reminders are opened once for all, and an area's residents counted once however many
    scopes (its service points) share it."""
    default_first, default_last = last_days(today)
    first, last = first or default_first, last or default_last
    if not scopes:
        return []
    ranges = {scope.area.code: area_range(scope.area.code) for scope in scopes}
    reminded = await store.reminded_per_desa(
        db,
        min(low for low, _ in ranges.values()),
        max(high for _, high in ranges.values()),
        first=first,
        last=last,
    )
    ages = ages_on(today)
    residents: dict[str, tuple[store.ResidentCounts, int, int, int]] = {}
    for code, (low, high) in ranges.items():
        residents[code] = (
            await store.resident_counts(db, low, high, ages=ages, first=first, last=last),
            await store.linked_residents(db, low, high),
            sum(n for desa, n in reminded.items() if low <= desa < high),
            await store.recorded_at_drives(db, low, high, first=first, last=last),
        )
    found = []
    for scope in scopes:
        low, high = ranges[scope.area.code]
        n, linked, reminded_here, at_drives = residents[scope.area.code]
        point = scope.point.code if scope.point else None
        tickets = await store.ticket_states(db, low, high, point=point)
        bookings = await store.booking_states(db, low, high, first=first, last=last, point=point)
        found.append(
            Figures(
                scope=scope,
                cycle=cycle_in_force(today),
                first=first,
                last=last,
                residents=n.residents,
                wajib_ktp=n.wajib_ktp,
                unrecorded_wajib=Reach(n.unrecorded_wajib, n.unrecorded_wajib_reach),
                turning_17_recorded=Reach(n.turning_17_recorded, n.turning_17_recorded_reach),
                turning_17_unrecorded=Reach(n.turning_17_unrecorded, n.turning_17_unrecorded_reach),
                deactivated=Reach(n.deactivated, n.deactivated_reach),
                reactivated=n.reactivated,
                linked=linked,
                outreach=n.outreach,
                reminded=reminded_here,
                recorded=n.recorded,
                recorded_at_drives=at_drives,
                bookings=bookings,
                tickets={state: tickets.get(state, 0) for state in TICKET_STATES},
            )
        )
    return found


def _born_by(day: date) -> date:
    """Latest birth date of someone who is 17 on `day`."""
    return birthday_at(day, -WAJIB_KTP_AGE)
