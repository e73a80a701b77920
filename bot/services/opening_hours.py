"""Opening hours written the way the office says them: `mon-thu 08:00-14:30, fri 08:00-11:00`."""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache

from bot.domain import DEFAULT_HOURS_TEXT

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(r"^(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

__all__ = ["DEFAULT_HOURS_TEXT", "Hours", "parse_hours"]

Hours = dict[int, tuple[time, time]]  # weekday (Monday 0) -> opening and closing time in WIB


@lru_cache(maxsize=64)
def parse_hours(text: str) -> Hours:
    """`mon-thu 08:00-14:30, fri 08:00-11:00` -> {0..3: (08:00, 14:30), 4: (08:00, 11:00)}."""
    hours: Hours = {}
    for group in filter(None, (g.strip().lower() for g in re.split(r"[,;]", text))):
        match = _GROUP.match(group)
        if not match or match[1] not in DAYS or (match[2] and match[2] not in DAYS):
            raise ValueError(f"cannot read {group!r}: write e.g. 'mon-thu 08:00-14:30'")
        first, last = DAYS.index(match[1]), DAYS.index(match[2] or match[1])
        opening, closing = _time(match[3], match[4]), _time(match[5], match[6])
        if first > last or opening >= closing:
            raise ValueError(f"{group!r}: days or times are the wrong way round")
        hours.update(dict.fromkeys(range(first, last + 1), (opening, closing)))
    if not hours:
        raise ValueError("no opening hours given")
    return hours


def _time(hour: str, minute: str) -> time:
    try:
        return time(int(hour), int(minute))
    except ValueError:
        raise ValueError(f"{hour}:{minute} is not a time of day") from None
