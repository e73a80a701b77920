"""What an admin's /keliling reads and shows: each typed answer of a new drive (or of a change)
checked at once by the rules `drives.create_drive` applies (bot/services/drives.py), so a bad
answer is asked again before anything is written; the summary to confirm; the upcoming drives.

The draft is the handler's (user_data), a dict of plain values: `create_drive` and
`change_drive` check everything again when the admin confirms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain import Area, Drive, ServicePoint
from bot.engine import Connection
from bot.errors import InvalidDrive
from bot.services import drives
from bot.services.broadcasts import read_day
from bot.services.opening_hours import parse_hours
from bot.services.schedule import points_for_service, slot_starts, to_utc, wib_day
from bot.storage import bookings
from bot.storage.areas import get_area
from bot.storage.service_points import get_service_point

# The typed steps of a new drive, in order; the location (or none) comes last, by button.
STEPS = ("name", "place", "day", "hours", "capacity", "area", "point")
CHANGES = ("day", "hours", "capacity")  # what /keliling changes on a planned drive
SUGGESTED_POINTS = 3
CODE_SHOWN = 12  # of a typed code, at most (a drive's code has 6 characters)
LIST_MAX = 8  # drives in one /keliling message: 8 long names and places fit in 4096 characters


@dataclass(frozen=True)
class Summary:
    """A new drive as the admin is asked to confirm it."""

    name: str
    place: str
    day: date
    hours: str
    capacity: int
    area: Area
    point: ServicePoint
    latitude: float | None
    longitude: float | None

    @property
    def places(self) -> int:
        """Places in the whole day."""
        return self.capacity * len(
            slot_starts(self.day, hours=parse_hours(f"mon-sun {self.hours}"))
        )


@dataclass(frozen=True)
class Listing:
    """The upcoming drives, with what the list shows beside each."""

    drives: list[Drive]
    booked: dict[str, int]  # drive code -> active bookings
    areas: dict[str, Area]  # area code -> its area
    runners: dict[str, ServicePoint]  # running point code -> the point
    more: int = 0  # planned drives after those shown (one message holds LIST_MAX)


async def read_answer(
    db: Connection, field: str, text: str, *, draft: dict[str, Any], now: datetime
) -> str | int:
    """The typed answer to step `field`, checked, as the draft keeps it; else InvalidDrive (or
    the day's InvalidDay) saying what is wrong. `draft` holds the earlier answers."""
    if field == "name":
        return drives.check_name(text)
    if field == "place":
        return drives.check_place(text)
    if field == "day":
        day = read_day(text, today=wib_day(now))
        await drives.check_day(db, day, run_by=draft.get("point"), now=now)
        return day.isoformat()
    if field == "hours":
        return drives.check_hours(text)
    if field == "capacity":
        return drives.check_capacity(_number(text))
    if field == "area":
        return await drives.check_area(db, text)
    point = await drives.check_point(db, text.strip().lower())
    await drives.check_day(db, date.fromisoformat(draft["day"]), run_by=point.code, now=now)
    return point.code


def _number(text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 6):
        raise InvalidDrive(kind="capacity", max_capacity=drives.MAX_CAPACITY)
    return int(digits)


async def suggested_points(db: Connection, area_code: str) -> list[ServicePoint]:
    """The points nearest the area (its kecamatan's office first), to suggest at the point
    step."""
    points = await points_for_service(db, "rekam", home_kecamatan=area_code[:6])
    return points[:SUGGESTED_POINTS]


async def summary(db: Connection, draft: dict[str, Any]) -> Summary:
    """The complete draft with its area and running point, for the confirmation."""
    area = await get_area(db, draft["area"])
    point = await get_service_point(db, draft["point"])
    assert area is not None and point is not None  # both checked when typed
    return Summary(
        draft["name"],
        draft["place"],
        date.fromisoformat(draft["day"]),
        draft["hours"],
        draft["capacity"],
        area,
        point,
        draft.get("latitude"),
        draft.get("longitude"),
    )


def create_values(draft: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `drives.create_drive` for a confirmed draft."""
    return {
        "name": draft["name"],
        "place": draft["place"],
        "day": date.fromisoformat(draft["day"]),
        "hours": draft["hours"],
        "capacity": draft["capacity"],
        "area": draft["area"],
        "service_point": draft["point"],
        "latitude": draft.get("latitude"),
        "longitude": draft.get("longitude"),
    }


def complete(draft: dict[str, Any]) -> bool:
    """Whether every typed step of a new drive has its answer."""
    return all(field in draft for field in STEPS)


async def upcoming(db: Connection, *, now: datetime, code: str | None = None) -> Listing:
    """The planned drives from today on (the first LIST_MAX; `code`: that one only, else
    InvalidDrive), with their bookings, areas and running points."""
    today = wib_day(now)
    found = await drives.list_drives(db, today, today + timedelta(days=drives.MAX_DAYS_AHEAD))
    if code is not None:  # as typed: only its start is shown back if it is no drive's code
        found = [await drives.planned_drive(db, code.strip()[:CODE_SHOWN], now=now)]
    shown = found[:LIST_MAX]
    areas = {d.area_code: await get_area(db, d.area_code) for d in shown}
    runners = {d.run_by: await get_service_point(db, d.run_by) for d in shown}
    return Listing(
        shown,
        {d.code: await booked(db, d) for d in shown},
        {code: area for code, area in areas.items() if area is not None},
        {code: point for code, point in runners.items() if point is not None},
        len(found) - len(shown),
    )


async def booked(db: Connection, drive: Drive) -> int:
    """How many active bookings the drive holds."""
    return len(await bookings.list_active_between(db, drive.point_code, drive.day, drive.day))


async def affected(db: Connection, drive: Drive, field: str, value: str | int) -> int:
    """How many bookings the change would cancel: all of them on a new day, those off the new
    grid for new hours, none for a new capacity (bookings made are kept)."""
    if field == "capacity":
        return 0
    found = await bookings.list_active_between(db, drive.point_code, drive.day, drive.day)
    if field == "day":
        return len(found)
    grid = set(slot_starts(drive.day, hours=parse_hours(f"mon-sun {value}")))
    return sum(1 for b in found if to_utc(b.start_at) not in grid)


def change_value(field: str, value: str | int) -> dict[str, Any]:
    """The keyword argument of `drives.change_drive` for a confirmed change."""
    if field == "day":
        return {"day": date.fromisoformat(str(value))}
    return {field: value}


def shown_value(field: str, value: str | int) -> date | str | int:
    """A changed value as the confirmation shows it (a day as a date)."""
    return date.fromisoformat(str(value)) if field == "day" else value
