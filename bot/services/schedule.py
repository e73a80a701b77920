"""The slot grid and the calendar: opening hours, holidays, closures and the places left.

Times are stored and compared in UTC; a slot's day is its date in WIB. A place is taken by an
active booking or held by an unexpired waitlist offer, so nobody can snipe a held place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays

from bot.config import TIMEZONE
from bot.engine import Connection
from bot.services.opening_hours import DEFAULT_HOURS_TEXT, Hours, parse_hours
from bot.storage import bookings, waitlist
from bot.storage.closures import closed_days, point_is_active
from bot.storage.service_points import ServicePoint, list_service_points

SLOT_MINUTES = 30
SLOT = timedelta(minutes=SLOT_MINUTES)
BOOKING_WINDOW_DAYS = 14  # today and the 13 days after it
MIN_LEAD = timedelta(hours=1)
DEFAULT_HOURS = parse_hours(DEFAULT_HOURS_TEXT)  # weekday -> (opening, closing) in WIB
PRINTED_SERVICES = ("rusak", "hilang", "ambil")  # need a card printer
_EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Slot:
    """A bookable slot and how many places it has left."""

    start_at: datetime  # UTC
    remaining: int


@dataclass(frozen=True)
class OpenDay:
    """A day (WIB) with at least one bookable slot, and its places left in total."""

    day: date
    remaining: int


def offers_service(point: ServicePoint, service: str) -> bool:
    """Recording everywhere; replacement and pick-up only where cards are printed."""
    return service == "rekam" or (service in PRINTED_SERVICES and point.prints_cards)


def to_utc(moment: datetime) -> datetime:
    """The instant in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def wib_day(moment: datetime) -> date:
    """The date in WIB at this instant."""
    return to_utc(moment).astimezone(TIMEZONE).date()


def booking_window(now: datetime) -> tuple[date, date]:
    """The first and last day (WIB) that can be booked at `now`."""
    today = wib_day(now)
    return today, today + timedelta(days=BOOKING_WINDOW_DAYS - 1)


def slot_starts(day: date, *, hours: Hours = DEFAULT_HOURS) -> list[datetime]:
    """The UTC starts of the day's slots; the last one ends at closing time at the latest."""
    if day.weekday() not in hours:
        return []
    opening, closing = hours[day.weekday()]
    start = datetime.combine(day, opening, tzinfo=TIMEZONE)
    count = (datetime.combine(day, closing, tzinfo=TIMEZONE) - start) // SLOT
    return [(start + n * SLOT).astimezone(UTC) for n in range(max(count, 0))]


def is_holiday(day: date) -> bool:
    """Whether the day is an Indonesian public holiday."""
    return day in _holidays(day.year)


@lru_cache(maxsize=16)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("ID", years=year)


async def is_open(db: Connection, point: ServicePoint, day: date) -> bool:
    """Whether the point serves on the day: opening hours, no holiday, no closure."""
    return day in await _open_days_between(db, point, day, day)


async def last_open_day_before(db: Connection, point: ServicePoint, day: date) -> date | None:
    """The point's latest opening day in the fortnight before `day`, if any."""
    days = await _open_days_between(db, point, day - timedelta(days=BOOKING_WINDOW_DAYS), day)
    return max((d for d in days if d < day), default=None)


async def open_days(db: Connection, point: ServicePoint, *, now: datetime) -> list[OpenDay]:
    """The days in the booking window that are open and still have a bookable slot."""
    days = []
    for day in await _open_days_between(db, point, *booking_window(now)):
        slots = await _free_slots(db, point, day, now=now)
        if slots:
            days.append(OpenDay(day, sum(slot.remaining for slot in slots)))
    return days


async def free_slots(
    db: Connection, point: ServicePoint, day: date, *, now: datetime
) -> list[Slot]:
    """The day's bookable slots: in the window, open, a place left, at least 1 hour ahead."""
    first, last = booking_window(now)
    if not first <= day <= last or not await is_open(db, point, day):
        return []
    return await _free_slots(db, point, day, now=now)


async def next_free_slots(
    db: Connection, point: ServicePoint, after: datetime, *, now: datetime, limit: int = 3
) -> list[Slot]:
    """The first bookable slots that start after `after`, within the window."""
    first, last = booking_window(now)
    found: list[Slot] = []
    for day in await _open_days_between(db, point, max(first, wib_day(after)), last):
        found += [s for s in await _free_slots(db, point, day, now=now) if s.start_at > after]
        if len(found) >= limit:
            break
    return found[:limit]


async def remaining_places(
    db: Connection,
    point: ServicePoint,
    start_at: datetime,
    *,
    now: datetime,
    ignore_offer: int | None = None,
) -> int:
    """Capacity minus active bookings minus places held by offers (other than `ignore_offer`)."""
    taken = await bookings.places_taken(db, point.code, start_at, exclude_offer=ignore_offer)
    return point.slot_capacity - taken


async def points_for_service(
    db: Connection, service: str, *, home_kecamatan: str | None
) -> list[ServicePoint]:
    """Active points offering the service, nearest to the home kecamatan's office first."""
    points = await list_service_points(db)
    home = _home_point(points, home_kecamatan)
    offering = [p for p in points if offers_service(p, service)]
    if home is None:
        return offering
    return sorted(offering, key=lambda p: distance_km(home, p))


def _home_point(points: list[ServicePoint], kecamatan: str | None) -> ServicePoint | None:
    """The kecamatan's own office, else another point in that kecamatan, else None."""
    in_kecamatan = [p for p in points if p.kecamatan_code == kecamatan]
    return min(in_kecamatan, key=lambda p: p.kind != "kecamatan", default=None)


def distance_km(a: ServicePoint, b: ServicePoint) -> float:
    """Great-circle distance between two points (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(h))


async def _open_days_between(
    db: Connection, point: ServicePoint, first: date, last: date
) -> list[date]:
    if first > last or not await point_is_active(db, point.code):
        return []
    closed = await closed_days(db, point.code, first, last)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    hours = parse_hours(point.hours)
    return [
        d
        for d in days
        if slot_starts(d, hours=hours)
        and not is_holiday(d)
        and d not in closed
        and point.open_day in (None, d)  # a drive's point opens on its day only
    ]


async def _free_slots(
    db: Connection, point: ServicePoint, day: date, *, now: datetime
) -> list[Slot]:
    starts = slot_starts(day, hours=parse_hours(point.hours))
    if not starts:
        return []
    booked = await bookings.active_counts_for_day(db, point.code, day)
    held = await waitlist.open_offer_counts(db, point.code, starts[0], starts[-1] + SLOT, now=now)
    earliest = to_utc(now) + MIN_LEAD
    places = {s: point.slot_capacity - booked.get(s, 0) - held.get(s, 0) for s in starts}
    return [Slot(s, n) for s, n in places.items() if n > 0 and s >= earliest]


async def places_offered(db: Connection, point: ServicePoint, first: date, last: date) -> int:
    """The places of the point's slots on its open days from `first` to `last`: each slot
    holds `slot_capacity` bookings (holidays, closures and days without hours offer none)."""
    hours = parse_hours(point.hours)
    days = await _open_days_between(db, point, first, last)
    return sum(len(slot_starts(day, hours=hours)) for day in days) * point.slot_capacity
