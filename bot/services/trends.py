"""The cycle's teens turning 17: the share recorded week by week, against the same weeks of the
previous cycle, and the days left to the deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.engine import Connection
from bot.services.cycle import Cycle, birthday_at, cycle_in_force
from bot.services.figures import ages_on
from bot.storage.stats import area_range
from bot.storage.trends import teen_recording_days


@dataclass(frozen=True)
class Week:
    """The share of the cycle's teens recorded by a week's last day, in percent (None: no
    teens), this cycle and the previous one on the same day a year before."""

    last: date
    share: float | None
    previous: float | None


@dataclass(frozen=True)
class TeenTrend:
    """An area's teens of the cycle in force on `today`, week by week since the cycle began."""

    cycle: Cycle
    today: date
    teens: int
    recorded: int
    weeks: list[Week]

    @property
    def days_left(self) -> int:
        """Days from today to the recording deadline."""
        return (self.cycle.deadline - self.today).days


async def teen_trend(db: Connection, code: str, *, today: date) -> TeenTrend:
    """The trend of area `code`: weeks end 7, 14, ... days after the cycle's start, and today."""
    low, high = area_range(code)
    cycle = cycle_in_force(today)
    a_year_ago = birthday_at(today, -1)
    teens, days = await teen_recording_days(db, low, high, ages=ages_on(today))
    before, before_days = await teen_recording_days(db, low, high, ages=ages_on(a_year_ago))
    weeks = [
        Week(last, _share(teens, days, last), _share(before, before_days, birthday_at(last, -1)))
        for last in _week_ends(birthday_at(cycle.deadline, -1) + timedelta(days=1), today)
    ]
    return TeenTrend(cycle, today, teens, sum(days.values()), weeks)


def _week_ends(start: date, today: date) -> list[date]:
    ends = [start + timedelta(days=7 * n + 6) for n in range((today - start).days // 7 + 1)]
    return [day for day in ends if day < today] + [today]


def _share(teens: int, days: dict[str, int], last: date) -> float | None:
    """Percent of `teens` recorded on or before `last`."""
    if not teens:
        return None
    done = sum(n for day, n in days.items() if day <= last.isoformat())
    return 100 * done / teens
