"""Mobile recording drives (perekaman keliling): create, change, cancel, find, book.

A drive is a service point of its own, open on one day only, linked by a `drives` row to the
area it serves (a desa/kelurahan or a kecamatan) and to the ordinary point whose staff run it
(see migrations/0024_drives.sql). So booking at a drive is ordinary booking at the drive's point:

    booking.book(db, chat_id=..., nik=..., service="rekam", point_code=drive.point_code,
                 start_at=<a slot of schedule.free_slots(db, drive.point, drive.day, now=now)>,
                 now=now)

or `book_at_drive` below, which first checks that the drive is still on and that the person
lives in its area. Codes, queue numbers, QR, reminders, "still coming?", the waitlist
(`waitlist.join` at `drive.point_code` for `drive.day`), check-in and outcomes are the
ordinary ones; the running point's staff act on the drive's bookings (`frontdesk`). Capacity is
per slot of the drive and never shared with the running point. A booking's place (name,
address, map pin: `pinned`) is its point's, so it shows as the drive's everywhere.

Writes are audited under `drive:<action>` by the admin (None: the command line). A change of
day or hours and a cancellation cancel the bookings that no longer fit and return them in a
`DriveChange`: telling their people (with a rebook button) is the caller's.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from bot.domain import ACTIVE_BOOKING_STATES, Booking, Drive, Resident, RoleUser, ServicePoint
from bot.engine import Connection
from bot.errors import DriveUnavailable, InvalidDrive, UnknownServicePoint
from bot.services import booking as booking_service
from bot.services.audit import audited, record_audit
from bot.services.booking_rules import (
    CODE_ALPHABET,
    CODE_LENGTH,
    RECORDING,
    RECORDING_MIN_AGE,
    require_drive_serves,
)
from bot.services.opening_hours import DAYS, parse_hours
from bot.services.points import MAX_CAPACITY
from bot.services.schedule import (
    BOOKING_WINDOW_DAYS,
    is_holiday,
    offers_service,
    slot_starts,
    to_utc,
    wib_day,
)
from bot.services.staff_actions import move_booking, require_role
from bot.storage import bookings, drives
from bot.storage.areas import get_area, plain_code
from bot.storage.closures import closed_days, point_is_active
from bot.storage.service_points import get_service_point

T = TypeVar("T")
START_PREFIX = "drv_"  # /start payload: drv_<code>
MAX_DAYS_AHEAD = 180
NAME_MAX = 80
PLACE_MAX = 200
EARLIEST, LATEST = time(6, 0), time(20, 0)
# Kabupaten Blitar's rough bounds (degrees): a pin outside them is a typo.
LATITUDES, LONGITUDES = (-8.45, -7.90), (111.95, 112.55)
_HOURS = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
_AREA_LEVELS = ("kecamatan", "desa", "kelurahan")
_SYSTEM_RANDOM = random.SystemRandom()
_CODE_ATTEMPTS = 16


@dataclass(frozen=True)
class DriveChange:
    """A drive as it is after a change or a cancellation, and the bookings that change
    cancelled (their people are to be told, with a rebook button)."""

    drive: Drive
    cancelled: list[Booking]


async def create_drive(
    db: Connection,
    *,
    admin: RoleUser | None,
    name: str,
    place: str,
    day: date,
    hours: str,
    capacity: int,
    area: str,
    service_point: str,
    latitude: float | None = None,
    longitude: float | None = None,
    now: datetime,
    rng: random.Random | None = None,
) -> Drive:
    """Plan a drive; `admin` None is the command line, else the account must be an admin.

    Refused with InvalidDrive (nothing changed, the refusal audited) unless: `name` and `place`
    are given; `day` is after today (WIB), at most MAX_DAYS_AHEAD ahead, no public holiday and
    no closure of the running point; `hours` is `HH:MM-HH:MM` within 06:00-20:00 holding one
    30-minute slot at least; 1 <= `capacity` <= MAX_CAPACITY; `area` (plain or dotted) is a
    kecamatan, desa or kelurahan of the regency; `service_point` is an active ordinary point
    that records (unknown: UnknownServicePoint); latitude and longitude both or neither, inside
    the regency. Without them the drive's place gets no map pin."""
    target = f"day={day.isoformat()} area={area} point={service_point}"
    async with audited(db, admin, "drive:create", target, now=now):
        _require_admin(admin)
        texts = _texts(name, place)
        opening, closing = _hours(hours)
        running = await _running_point(db, service_point)
        await _require_day(db, running.code, day, now=now)
        kecamatan = await _area(db, area)
        _require_capacity(capacity)
        pin = _pin(latitude, longitude)
        code = await _new_code(db, rng)
        await drives.insert_drive_point(
            db,
            code=f"drv-{code.lower()}",
            name=texts[0],
            address=texts[1],
            kecamatan_code=kecamatan,
            latitude=pin[0] if pin else running.latitude,
            longitude=pin[1] if pin else running.longitude,
            pinned=pin is not None,
            capacity=capacity,
            hours=_hours_text(day, opening, closing),
            day=day,
        )
        drive_id = await drives.insert_drive(
            db,
            code=code,
            point_code=f"drv-{code.lower()}",
            run_by=running.code,
            area_code=plain_code(area),
            created_by=admin.telegram_id if admin else None,
            now=now,
        )
        await record_audit(db, admin, "drive:create", f"{target} code={code}", now=now)
    return await _reread(db, drive_id)


async def change_drive(
    db: Connection,
    code: str,
    *,
    admin: RoleUser | None,
    day: date | None = None,
    hours: str | None = None,
    capacity: int | None = None,
    name: str | None = None,
    place: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    now: datetime,
) -> DriveChange:
    """Change a planned drive (None keeps a value; the same checks as `create_drive`, a new
    day checked only if it differs). A new day cancels every active booking; new hours cancel
    those whose slot is no longer on the grid; a lower capacity keeps the bookings already made
    (no new one beyond it). Returns the drive and the bookings cancelled."""
    async with audited(db, admin, "drive:change", f"code={code}", now=now):
        _require_admin(admin)
        drive = await _planned(db, code, now=now)
        point = drive.point
        texts = _texts(_or(name, point.name), _or(place, point.address))
        new_day = _or(day, drive.day)
        opening, closing = _hours(_or(hours, drive.hours))
        if new_day != drive.day:
            await _require_day(db, drive.run_by, new_day, now=now)
        new_capacity = _or(capacity, drive.capacity)
        _require_capacity(new_capacity)
        given = _pin(latitude, longitude)
        pin = given or (point.latitude, point.longitude)
        new_hours = _hours_text(new_day, opening, closing)
        await drives.update_drive_point(
            db,
            point.code,
            name=texts[0],
            address=texts[1],
            latitude=pin[0],
            longitude=pin[1],
            pinned=given is not None or point.pinned,
            capacity=new_capacity,
            hours=new_hours,
            day=new_day,
        )
        await drives.touch_drive(db, drive.id, now=now)
        grid = set(slot_starts(new_day, hours=parse_hours(new_hours)))
        cancelled = await _cancel_bookings(db, drive, admin, keep=grid, now=now)
        detail = f"code={drive.code} day={new_day.isoformat()} hours={new_hours}"
        detail += f" capacity={new_capacity} cancelled={len(cancelled)}"
        await record_audit(db, admin, "drive:change", detail, now=now)
    return DriveChange(await _reread(db, drive.id), cancelled)


async def cancel_drive(
    db: Connection, code: str, *, admin: RoleUser | None, now: datetime
) -> DriveChange:
    """Cancel a planned drive whose day has not passed: its point closes, its active bookings
    are cancelled and returned. Refused with InvalidDrive (`not_found`, `cancelled`, `past`)."""
    async with audited(db, admin, "drive:cancel", f"code={code}", now=now):
        _require_admin(admin)
        drive = await _planned(db, code, now=now)
        await drives.cancel_drive(db, drive.id, now=now)
        cancelled = await _cancel_bookings(db, drive, admin, keep=set(), now=now)
        detail = f"code={drive.code} cancelled={len(cancelled)}"
        await record_audit(db, admin, "drive:cancel", detail, now=now)
    return DriveChange(await _reread(db, drive.id), cancelled)


async def get_drive_by_code(db: Connection, code: str) -> Drive | None:
    """The drive with this code (any case, as typed or from a deep link), or None."""
    return await drives.get_drive_by_code(db, code)


async def get_drive_by_point(db: Connection, point_code: str) -> Drive | None:
    """The drive a booking at `point_code` is for, or None for an ordinary point."""
    return await drives.get_drive_by_point(db, point_code)


async def list_drives(
    db: Connection,
    first_day: date,
    last_day: date,
    *,
    run_by: str | None = None,
    planned_only: bool = True,
) -> list[Drive]:
    """Drives from `first_day` to `last_day` (e.g. tomorrow's, for the evening list), by day
    and opening time; only those run by the point `run_by` when given."""
    return await drives.list_drives(
        db, first_day, last_day, run_by=run_by, planned_only=planned_only
    )


async def drive_bookings(db: Connection, drive: Drive) -> list[Booking]:
    """Every booking at the drive on its day, in any state, by time and queue number."""
    return await bookings.list_point_day(db, drive.point_code, drive.day)


async def drives_serving(
    db: Connection,
    who: Resident | str,
    from_day: date,
    days: int = BOOKING_WINDOW_DAYS,
) -> list[Drive]:
    """The planned drives serving a resident's desa or its kecamatan (or the given desa code)
    on the `days` days from `from_day`, by day and opening time."""
    desa = who.kode_desa if isinstance(who, Resident) else plain_code(who)
    last = from_day + timedelta(days=days - 1)
    return await drives.list_drives(db, from_day, last, areas=_serving_areas(desa))


async def book_at_drive(
    db: Connection,
    code: str,
    *,
    chat_id: int,
    nik: str,
    start_at: datetime,
    now: datetime,
    min_age: int = RECORDING_MIN_AGE,
) -> Booking:
    """Book a recording at the drive with this code: exactly `booking.book` at the drive's
    point, which refuses with DriveUnavailable a drive gone (unknown, cancelled, over) or a
    person living outside its area, and with SlotFull a full slot (offer the waitlist)."""
    drive = await available_drive(db, code, now=now)
    return await booking_service.book(
        db,
        chat_id=chat_id,
        nik=nik,
        service=RECORDING,
        point_code=drive.point_code,
        start_at=start_at,
        now=now,
        min_age=min_age,
    )


async def available_drive(db: Connection, code: str, *, now: datetime) -> Drive:
    """The drive if it is planned and its day has not passed; else DriveUnavailable."""
    drive = await drives.get_drive_by_code(db, code)
    if drive is None or drive.cancelled or drive.day < wib_day(now):
        raise DriveUnavailable(kind="drive_gone")
    return drive


async def require_in_area(db: Connection, drive: Drive, nik: str) -> None:
    """DriveUnavailable(`not_in_area`) unless the person lives in the area the drive serves."""
    await require_drive_serves(db, drive.point, nik)


def deep_link(bot_username: str, drive: Drive) -> str:
    """`https://t.me/<bot>?start=drv_<code>`: opens the booking at the drive."""
    return f"https://t.me/{bot_username}?start={START_PREFIX}{drive.code}"


def code_from_start(payload: str) -> str | None:
    """The drive code in a /start payload `drv_<code>`, or None if it is not one."""
    if not payload.startswith(START_PREFIX):
        return None
    code = payload.removeprefix(START_PREFIX).upper()
    ok = len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)
    return code if ok else None


def _or(value: T | None, kept: T) -> T:
    """The new value, or the kept one when none is given (0 and "" are values, refused later)."""
    return kept if value is None else value


def _serving_areas(desa: str) -> tuple[str, str]:
    """The area codes a drive for this desa's residents may serve: the desa, its kecamatan."""
    return desa, desa[:6]


# --- one answer at a time: /keliling asks step by step and checks each answer as it comes,
# with the checks of create_drive (which checks everything again when the admin confirms) ---


def check_name(name: str) -> str:
    """The drive's name, cleaned; InvalidDrive(`name`) if empty or too long."""
    return _texts(name, "-")[0]


def check_place(place: str) -> str:
    """The drive's place, cleaned; InvalidDrive(`place`) if empty or too long."""
    return _texts("-", place)[1]


def check_hours(text: str) -> str:
    """`HH:MM-HH:MM` as a drive's hours are written; else InvalidDrive(`hours`)."""
    opening, closing = _hours(text)
    return f"{opening:%H:%M}-{closing:%H:%M}"


def check_capacity(capacity: int) -> int:
    """Places per slot, 1 to MAX_CAPACITY; else InvalidDrive(`capacity`)."""
    _require_capacity(capacity)
    return capacity


async def check_day(db: Connection, day: date, *, run_by: str | None, now: datetime) -> date:
    """A day a drive can be on (after today, not too far, no holiday, no closure of every
    point, nor of the running point `run_by` once known); else InvalidDrive."""
    await _require_day(db, run_by or "", day, now=now)
    return day


async def check_area(db: Connection, code: str) -> str:
    """The plain code of an area a drive can serve; else InvalidDrive(`area`)."""
    await _area(db, code)
    return plain_code(code)


async def check_point(db: Connection, code: str) -> ServicePoint:
    """A point whose staff can run a drive; else UnknownServicePoint or InvalidDrive(`point`)."""
    return await _running_point(db, code)


async def planned_drive(db: Connection, code: str, *, now: datetime) -> Drive:
    """The drive with this code if it can still be changed or cancelled; else InvalidDrive."""
    return await _planned(db, code, now=now)


# --- the checks ---


def _require_admin(admin: RoleUser | None) -> None:
    if admin is not None:
        require_role(admin, "admin")


def _texts(name: str, place: str) -> tuple[str, str]:
    clean = " ".join(name.split()), " ".join(place.split())
    if not 1 <= len(clean[0]) <= NAME_MAX:
        raise InvalidDrive(kind="name", max_len=NAME_MAX)
    if not 1 <= len(clean[1]) <= PLACE_MAX:
        raise InvalidDrive(kind="place", max_len=PLACE_MAX)
    return clean


def _hours(text: str) -> tuple[time, time]:
    """`HH:MM-HH:MM` within 06:00-20:00 with one 30-minute slot at least."""
    match = _HOURS.match(text)
    try:
        hours = parse_hours(f"mon {match[1]}-{match[2]}") if match else {}
    except ValueError:
        hours = {}
    opening, closing = hours.get(0, (LATEST, EARLIEST))
    if opening < EARLIEST or closing > LATEST or not slot_starts(date(2024, 1, 1), hours=hours):
        raise InvalidDrive(kind="hours")
    return opening, closing


def _hours_text(day: date, opening: time, closing: time) -> str:
    return f"{DAYS[day.weekday()]} {opening:%H:%M}-{closing:%H:%M}"


async def _running_point(db: Connection, code: str) -> ServicePoint:
    point = await get_service_point(db, code)
    if point is None:
        raise UnknownServicePoint(code=code)
    active = await point_is_active(db, code)
    if point.open_day is not None or not active or not offers_service(point, RECORDING):
        raise InvalidDrive(kind="point", code=code)
    return point


async def _require_day(db: Connection, run_by: str, day: date, *, now: datetime) -> None:
    today = wib_day(now)
    if day <= today:
        raise InvalidDrive(kind="past")
    if (day - today).days > MAX_DAYS_AHEAD:
        raise InvalidDrive(kind="too_far", max_days=MAX_DAYS_AHEAD)
    if is_holiday(day):
        raise InvalidDrive(kind="holiday")
    closed = await closed_days(db, run_by, day, day)
    if closed:
        raise InvalidDrive(kind="closed", reason=closed[day])


async def _area(db: Connection, code: str) -> str:
    """The kecamatan of the area a drive serves; InvalidDrive(`area`) if it is none."""
    area = await get_area(db, code)
    if area is None or area.level not in _AREA_LEVELS or not area.code.startswith("3505"):
        raise InvalidDrive(kind="area", code=code)
    return area.code[:6]


def _require_capacity(capacity: int) -> None:
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidDrive(kind="capacity", max_capacity=MAX_CAPACITY)


def _pin(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise InvalidDrive(kind="coordinates")
    inside = (
        LATITUDES[0] <= latitude <= LATITUDES[1] and LONGITUDES[0] <= longitude <= LONGITUDES[1]
    )
    if not inside:
        raise InvalidDrive(kind="coordinates")
    return latitude, longitude


async def _planned(db: Connection, code: str, *, now: datetime) -> Drive:
    drive = await drives.get_drive_by_code(db, code)
    if drive is None:
        raise InvalidDrive(kind="not_found", code=code)
    if drive.cancelled:
        raise InvalidDrive(kind="cancelled")
    if drive.day < wib_day(now):
        raise InvalidDrive(kind="past")
    return drive


async def _new_code(db: Connection, rng: random.Random | None) -> str:
    chooser = rng or _SYSTEM_RANDOM
    for _ in range(_CODE_ATTEMPTS):
        code = "".join(chooser.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not await drives.code_taken(db, code):
            return code
    raise RuntimeError("no unused drive code found")


async def _cancel_bookings(
    db: Connection,
    drive: Drive,
    admin: RoleUser | None,
    *,
    keep: set[datetime],
    now: datetime,
) -> list[Booking]:
    """Cancel the drive's active bookings whose slot is not in `keep`."""
    found = await bookings.list_active_between(db, drive.point_code, drive.day, drive.day)
    return [
        await move_booking(db, b, ACTIVE_BOOKING_STATES, "cancelled", actor=admin, now=now)
        for b in found
        if to_utc(b.start_at) not in keep
    ]


async def _reread(db: Connection, drive_id: int) -> Drive:
    drive = await drives.get_drive(db, drive_id)
    assert drive is not None
    return drive
