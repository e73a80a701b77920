"""The sandbox clock: real time plus an offset that a visitor moves forward, and the moments
a visitor types to jump to."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from babel.dates import get_day_names, get_month_names

from bot.clock import Clock, SystemClock
from bot.config import TIMEZONE


class ClockError(ValueError):
    """A jump the sandbox refuses (backwards, or too far at once)."""


class SandboxClock:
    """Ticks with `base` (the machine's clock) from `start`; only ever jumps forward."""

    def __init__(self, start: datetime | None = None, *, base: Clock | None = None) -> None:
        self.base = base or SystemClock()
        self.offset = timedelta(0) if start is None else start - self.base.now()

    def now(self) -> datetime:
        """The sandbox's current instant (UTC)."""
        return self.base.now() + self.offset

    def jump_to(self, moment: datetime) -> datetime:
        """Move to `moment` (timezone-aware, later than now); return where it was."""
        if moment.tzinfo is None:
            raise ClockError("a moment needs a timezone")
        before = self.now()
        if moment <= before:
            raise ClockError("the sandbox clock only moves forward")
        self.offset += moment - before
        return before


# --- the jump field: a moment as people in Indonesia write it ---

FIELD_FORMAT = "%d/%m/%Y %H.%M"  # how the page shows the clock in the jump field
FIELD_HELP = 'give a date as DD/MM/YYYY HH.MM or "1 Mei 2027 09.00" (WIB)'
LOCALES = ("id", "en")
MONTHS = {
    name.lower(): number
    for locale in LOCALES
    for width in ("wide", "abbreviated")
    for number, name in get_month_names(width, locale=locale).items()
}
WEEKDAYS = {name.lower() for loc in LOCALES for name in get_day_names("wide", locale=loc).values()}
_DATE = re.compile(
    r"(?P<day>\d{1,2})(?:[/.-](?P<month>\d{1,2})[/.-]|\s+(?P<name>[^\W\d_]+)\.?\s+)(?P<year>\d{4})"
)
_TIME = re.compile(r"(?:,?\s*(?:pukul|jam|at)?\s*(?P<hour>\d{1,2})[.:](?P<minute>\d{2}))?")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2})?")


def parse_moment(text: str, *, now: datetime) -> datetime:
    """A moment typed in the jump field, in WIB: "1/5/2027 09.00", "01-05-2027 9:00",
    "1 Mei 2027 09.00", "Sabtu, 1 Mei 2027", "1 May 2027 09:00" or ISO "2027-05-01T09:00".

    A date without a time keeps `now`'s time of day; ClockError for anything else."""
    text = " ".join(text.split())
    if _ISO.fullmatch(text):
        try:
            return _aware(datetime.fromisoformat(text))
        except ValueError:
            raise ClockError(f"no such date or time: {text}") from None
    first, _, rest = text.partition(" ")
    if first.rstrip(",").lower() in WEEKDAYS:  # the day's name, as the header shows it
        text = rest
    found = _DATE.match(text)
    clock = _TIME.fullmatch(text, found.end()) if found else None
    if found is None or clock is None:
        raise ClockError(FIELD_HELP)
    month = MONTHS.get((found["name"] or "").lower()) or int(found["month"] or 0)
    local = now.astimezone(TIMEZONE)
    hour, minute = (
        (int(clock["hour"]), int(clock["minute"])) if clock["hour"] else (local.hour, local.minute)
    )
    try:
        return datetime(int(found["year"]), month, int(found["day"]), hour, minute, tzinfo=TIMEZONE)
    except ValueError:
        raise ClockError(f"no such date or time: {text}") from None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=TIMEZONE)
