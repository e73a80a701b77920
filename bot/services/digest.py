"""The morning digest: each service point's day for its staff, the regency's for the admins.

It goes out on opening days only (a point's own hours, Indonesian holidays, closures), and its
"yesterday" is the previous opening day, so Friday's outcomes reach staff on Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain import ServicePoint
from bot.engine import Connection
from bot.services.cycle import Cycle
from bot.services.figures import REGENCY_CODE, area_scope, figures, point_scope
from bot.services.schedule import is_open, last_open_day_before
from bot.services.staff_chats import staff_recipients
from bot.storage.service_points import list_service_points

SERVED = ("recorded", "handed_over")
DROPPED = ("cancelled", "rejected", "released")
ACTIVE = ("pending", "confirmed", "checked_in")


@dataclass(frozen=True)
class Bookings:
    """One day's bookings counted per state."""

    states: dict[str, int]

    def count(self, *states: str) -> int:
        """How many are in any of `states` (all of them when none are named)."""
        return sum(n for state, n in self.states.items() if not states or state in states)

    @property
    def served(self) -> int:
        """Visits that ended with a recording or a card handed over."""
        return self.count(*SERVED)

    @property
    def active(self) -> int:
        """Bookings still to be served: pending, confirmed or checked in."""
        return self.count(*ACTIVE)


@dataclass(frozen=True)
class PointDigest:
    """A service point's yesterday and today, and its damaged/lost card tickets."""

    point: ServicePoint
    last_day: date  # the previous opening day, which "yesterday" is about
    yesterday: Bookings
    today: Bookings
    tickets_open: int
    tickets_ready: int

    @property
    def is_empty(self) -> bool:
        """Nothing happened on the last opening day, nothing is booked today, no open ticket."""
        return not (self.yesterday.count() or self.today.active or self.tickets_open)


@dataclass(frozen=True)
class TeenRate:
    """Residents turning 17 in the cycle's cohort year, and how many have recorded."""

    year: int
    total: int
    recorded: int

    @property
    def percent(self) -> float | None:
        """Recorded as a percentage of the total; None when nobody turns 17 that year."""
        return 100 * self.recorded / self.total if self.total else None


@dataclass(frozen=True)
class RegencyDigest:
    """The whole regency: bookings, no-shows and recordings yesterday, tickets, teens."""

    last_day: date  # the previous opening day anywhere, which "yesterday" is about
    yesterday: Bookings
    today: Bookings
    recordings: int  # dated from `last_day` to yesterday
    tickets: dict[str, int]  # ticket states with at least one ticket, in TICKET_STATES order
    teens: TeenRate
    cycle: Cycle

    @property
    def is_empty(self) -> bool:
        """Every figure is zero: the digest says "nothing new" in one line."""
        return not (
            self.yesterday.count()
            or self.recordings
            or self.today.active
            or self.tickets
            or self.teens.total
        )


def yesterday_of(day: date) -> date:
    """The day before."""
    return day - timedelta(days=1)


async def point_digest(db: Connection, point: ServicePoint, *, day: date) -> PointDigest:
    """The last opening day's outcomes, today's bookings and the open tickets at one point."""
    scope = await point_scope(db, point)
    last_day = await last_open_day_before(db, point, day) or yesterday_of(day)
    past = await figures(db, scope, today=day, first=last_day, last=last_day)
    present = await figures(db, scope, today=day, first=day, last=day)
    return PointDigest(
        point=point,
        last_day=last_day,
        yesterday=Bookings(past.bookings),
        today=Bookings(present.bookings),
        tickets_open=present.open_tickets,
        tickets_ready=present.tickets["ready"],
    )


async def regency_digest(db: Connection, *, day: date) -> RegencyDigest:
    """Regency-wide counts for the admins, and the teens' recording rate in the cycle in force."""
    scope = await area_scope(db, REGENCY_CODE)
    last_days = [await last_open_day_before(db, p, day) for p in await list_service_points(db)]
    last_day = max((d for d in last_days if d), default=yesterday_of(day))
    # From the last opening day to yesterday: the days between are closed at every point.
    past = await figures(db, scope, today=day, first=last_day, last=yesterday_of(day))
    present = await figures(db, scope, today=day, first=day, last=day)
    return RegencyDigest(
        last_day=last_day,
        yesterday=Bookings(past.bookings),
        today=Bookings(present.bookings),
        recordings=past.recorded,
        tickets={state: n for state, n in present.tickets.items() if n},
        teens=TeenRate(past.teen_year, past.turning_17, past.turning_17_recorded.total),
        cycle=past.cycle,
    )


async def open_points(db: Connection, day: date) -> list[ServicePoint]:
    """The service points open on the day: only they get a digest."""
    return [point for point in await list_service_points(db) if await is_open(db, point, day)]


async def staff_chats(db: Connection, *, day: date) -> dict[int, list[ServicePoint]]:
    """Each staff chat (a point's staff group, else its staff members) and the points it serves
    that are open on the day."""
    chats: dict[int, list[ServicePoint]] = {}
    for point in await open_points(db, day):
        for chat_id in await staff_recipients(db, point.code):
            chats.setdefault(chat_id, []).append(point)
    return chats
