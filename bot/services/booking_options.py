"""What the booking and waitlist flows offer to choose from: a short list of service points and
the days of the booking window."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.domain import ServicePoint
from bot.engine import Connection
from bot.services.schedule import booking_window, points_for_service

POINTS_SHOWN = 6  # the nearest points, as buttons
SHOWN_ANYWHERE = ("office", "tla")  # the Kanigoro office and the TLAs print cards: always listed


async def shortlisted_points(
    db: Connection, service: str, *, home_kecamatan: str | None
) -> list[ServicePoint]:
    """The points offering the service nearest to the home kecamatan, plus the Kanigoro office
    and the TLAs wherever they rank."""
    points = await points_for_service(db, service, home_kecamatan=home_kecamatan)
    farther = [p for p in points[POINTS_SHOWN:] if p.kind in SHOWN_ANYWHERE]
    return points[:POINTS_SHOWN] + farther


def in_window(day: date, *, now: datetime) -> bool:
    """The day can be booked (or waited for) at `now`."""
    first, last = booking_window(now)
    return first <= day <= last


def window_days(first: date, *, now: datetime) -> list[date]:
    """The days from `first` to the last day of the booking window at `now`."""
    last = booking_window(now)[1]
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
