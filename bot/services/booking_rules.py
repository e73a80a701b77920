"""The rules every new booking passes, and its insert: shared by `booking` (book, reschedule)
and `waitlist` (the place held for a person), so neither imports the other for them.

Call them inside the write transaction that inserts, so capacity holds under any concurrency.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from bot.domain import Booking, Drive, Resident
from bot.engine import Connection, IntegrityError
from bot.errors import (
    AlreadyBooked,
    DriveUnavailable,
    NoShowLimit,
    OutsideWindow,
    PointClosed,
    RecordingNotAllowed,
    ServiceNotOffered,
    SlotFull,
    TooManyBookings,
    TooSoon,
)
from bot.services.cycle import birthday_at
from bot.services.opening_hours import parse_hours
from bot.services.schedule import (
    MIN_LEAD,
    booking_window,
    is_open,
    offers_service,
    remaining_places,
    slot_starts,
    to_utc,
    wib_day,
)
from bot.storage import bookings, drives
from bot.storage.point_settings import starts_confirmed
from bot.storage.residents import get_resident
from bot.storage.service_points import ServicePoint, get_service_point

MAX_ACTIVE_PER_CHAT = 3
NO_SHOW_LIMIT = 2
NO_SHOW_WINDOW = timedelta(days=90)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
_CODE_ATTEMPTS = 8
_SYSTEM_RANDOM = random.SystemRandom()
# Recording may start at 16 (the card is printed at 17); the setting RECORDING_MIN_AGE.
RECORDING_MIN_AGE = 16
RECORDING = "rekam"


def new_code(rng: random.Random | None = None) -> str:
    """A booking code: 6 characters that read aloud unambiguously (no 0/O, 1/I)."""
    chooser = rng or _SYSTEM_RANDOM
    return "".join(chooser.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def point_for(db: Connection, point_code: str, service: str) -> ServicePoint:
    """The point if it offers the service; else ServiceNotOffered."""
    point = await get_service_point(db, point_code)
    if point is None or not offers_service(point, service):
        raise ServiceNotOffered(service=service, point_code=point_code)
    return point


async def require_slot(
    db: Connection,
    point: ServicePoint,
    start: datetime,
    *,
    now: datetime,
    lead: bool = True,
) -> None:
    """In the window, at least MIN_LEAD ahead (if `lead`), on the grid of an open day."""
    day = wib_day(start)
    _, last = booking_window(now)
    if start < to_utc(now) + (MIN_LEAD if lead else timedelta(0)):
        raise TooSoon(start_at=start)
    if day > last:
        raise OutsideWindow(day=day, last_day=last)
    hours = parse_hours(point.hours)
    if start not in slot_starts(day, hours=hours) or not await is_open(db, point, day):
        raise PointClosed(day=day, point_code=point.code)


async def require_person_may_book(
    db: Connection, *, chat_id: int, nik: str, service: str, now: datetime
) -> None:
    """One active booking per person and service, three per chat, one after two no-shows."""
    person = await bookings.person_bookings(db, nik, service, chat_id)
    if person.active_id is not None:
        existing = await bookings.get_booking(db, person.active_id)
        mine = existing is not None and existing.chat_id == chat_id
        raise AlreadyBooked(booking=existing if mine else None)
    if person.for_chat >= MAX_ACTIVE_PER_CHAT:
        raise TooManyBookings(limit=MAX_ACTIVE_PER_CHAT)
    if person.for_nik == 0:
        return
    if await bookings.no_shows_since(db, nik, to_utc(now) - NO_SHOW_WINDOW) >= NO_SHOW_LIMIT:
        raise NoShowLimit(limit=1, no_shows=NO_SHOW_LIMIT, days=NO_SHOW_WINDOW.days)


def require_may_record(resident: Resident, day: date, *, min_age: int = RECORDING_MIN_AGE) -> None:
    """A recording visit on `day` is for someone not yet recorded who is then at least `min_age`
    or is or was married; else RecordingNotAllowed saying why."""
    if resident.tanggal_rekam is not None:
        raise RecordingNotAllowed(kind="already_recorded", recorded_on=resident.tanggal_rekam)
    age = resident.age_on(day)
    if age < min_age and not resident.ever_married:
        from_day = birthday_at(resident.tanggal_lahir, min_age)
        raise RecordingNotAllowed(kind="too_young", age=age, min_age=min_age, from_day=from_day)


async def require_service_fits(
    db: Connection,
    *,
    nik: str,
    service: str,
    day: date,
    min_age: int = RECORDING_MIN_AGE,
) -> None:
    """The service fits the person on `day`: for now, who may book a recording."""
    if service != RECORDING:
        return
    resident = await get_resident(db, nik)
    if resident is not None:
        require_may_record(resident, day, min_age=min_age)


def drive_serves(drive: Drive, resident: Resident) -> bool:
    """Whether the drive serves the resident's desa or the kecamatan it lies in."""
    return drive.area_code in (resident.kode_desa, resident.kode_desa[:6])


async def require_drive_serves(db: Connection, point: ServicePoint, nik: str) -> None:
    """At a drive's point (bot/services/drives.py), the drive is still planned and serves the
    person's desa or kecamatan; else DriveUnavailable. Nothing to check at an ordinary point."""
    if point.open_day is None:
        return
    drive = await drives.get_drive_by_point(db, point.code)
    if drive is None or drive.cancelled:
        raise DriveUnavailable(kind="drive_gone")
    resident = await get_resident(db, nik)
    if resident is None or not drive_serves(drive, resident):
        raise DriveUnavailable(kind="not_in_area")


async def require_room(
    db: Connection,
    point: ServicePoint,
    start: datetime,
    *,
    now: datetime,
    ignore_offer: int | None = None,
) -> None:
    """A place left after active bookings and the places held by other open offers."""
    if await remaining_places(db, point, start, now=now, ignore_offer=ignore_offer) <= 0:
        raise SlotFull(point_code=point.code, start_at=start, next_free=[])


async def initial_state(db: Connection, point: ServicePoint) -> str:
    """A new or moved booking is confirmed at once where the point auto-confirms, or where no
    staff member could be told of it (none registered, none has opened the bot, or the staff
    chat blocked it): a booking nobody can confirm would otherwise wait "pending" for ever."""
    return "confirmed" if await starts_confirmed(db, point.code) else "pending"


async def insert_booking(
    db: Connection,
    point: ServicePoint,
    *,
    chat_id: int,
    nik: str,
    service: str,
    start_at: datetime,
    now: datetime,
    rng: random.Random | None,
) -> Booking:
    """Insert with the next queue number and a fresh code (retried on the rare collision); the
    partial unique index on the person and service is the last word: AlreadyBooked. The
    INSERT reads the number, under the day's lock on PostgreSQL (storage.bookings)."""
    day = wib_day(start_at)
    state = await initial_state(db, point)
    for _ in range(_CODE_ATTEMPTS):
        try:
            booking = await bookings.insert_booking(
                db,
                code=new_code(rng),
                chat_id=chat_id,
                nik=nik,
                service=service,
                service_point=point.code,
                start_at=start_at,
                day=day,
                state=state,
                now=now,
            )
        except IntegrityError as error:
            if _violated(error, "bookings.nik_ref", "bookings_one_active_per_person_service"):
                raise AlreadyBooked(booking=None) from error
            raise
        if booking is not None:
            return booking
    raise RuntimeError("no unused booking code found")


def _violated(error: Exception, sqlite_column: str, postgresql_constraint: str) -> bool:
    """Whether the IntegrityError is that of this unique index: SQLite names its first column
    in the message, PostgreSQL the constraint in the error's diagnostics."""
    diag = getattr(error, "diag", None)
    if diag is not None:
        return bool(diag.constraint_name == postgresql_constraint)
    return sqlite_column in str(error)
