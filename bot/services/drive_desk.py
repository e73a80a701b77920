"""Mobile recording drives for those who run them and those who asked for them (issue 18): the
drive's list of bookings for the staff of the point that runs it (the evening before, and on
demand), and the summary after the drive for the admins and the officials of its area.

Serving a drive's visitor (check-in by code or QR, "recorded") is the counter's usual work:
bot/services/frontdesk.py lets the running point's staff act on the drive's bookings.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.config import TIMEZONE
from bot.domain import Drive, RoleUser
from bot.engine import Connection
from bot.errors import DomainError, WrongServicePoint
from bot.services.booking_rules import CODE_LENGTH
from bot.services.figures import CAME
from bot.services.frontdesk import QueueEntry, queue_entries
from bot.services.opening_hours import parse_hours
from bot.services.roles import accounts_with_role
from bot.services.schedule import slot_starts
from bot.services.staff_actions import desk_action, require_role
from bot.services.staff_chats import staff_recipients
from bot.storage import drives, users
from bot.storage.areas import get_area

DROPPED = ("cancelled", "rejected", "released")  # bookings that gave their place back
LIST_AHEAD_DAYS = 366  # /daftar_keliling without a code: the next drive within a year
CSV_HEADER = ("waktu", "kode", "nama")  # no NIK, masked or not
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


class NoDrive(DomainError):
    """No planned drive with that code, or none ahead for the staff member's point."""

    template = "staff/drive_not_found.html"


@dataclass(frozen=True)
class DriveList:
    """A drive's bookings that hold a place (or held it until served), in queue order."""

    drive: Drive
    entries: list[QueueEntry]
    places: int  # every slot's places on the day


@dataclass(frozen=True)
class DesaLine:
    """One desa's residents at a drive: booked, came, recorded."""

    name: str
    booked: int
    came: int
    recorded: int


@dataclass(frozen=True)
class DriveOutcome:
    """After the drive: its places, and what became of its bookings, in all and per desa."""

    drive: Drive
    places: int
    booked: int  # bookings not given back (cancelled, rejected, released)
    came: int  # checked in, recorded
    recorded: int
    no_show: int
    per_desa: list[DesaLine]


def places_of(drive: Drive) -> int:
    """Places on the drive's day: its slots times the places per slot."""
    return len(slot_starts(drive.day, hours=parse_hours(drive.point.hours))) * drive.capacity


async def drive_list(db: Connection, drive: Drive) -> DriveList:
    """The drive's bookings that were not given back, with the residents' names."""
    day = await queue_entries(db, drive.point_code, drive.day)
    entries = [e for e in day if e.booking.state not in DROPPED]
    return DriveList(drive, entries, places_of(drive))


async def lists_for(db: Connection, day: date) -> list[tuple[DriveList, list[int]]]:
    """Each planned drive on `day` with its list and the chats of its running point's staff
    (the point's staff group, else each staff member)."""
    found = []
    for drive in await drives.list_drives(db, day, day):
        found.append((await drive_list(db, drive), await staff_recipients(db, drive.run_by)))
    return found


async def staff_drive_list(
    db: Connection,
    *,
    staff: RoleUser | None,
    code: str | None,
    today: date,
    now: datetime,
) -> DriveList:
    """/daftar_keliling [KODE]: that drive's list (or the next drive of the staff member's point
    from today on), for the staff of the point that runs it only; a refusal is audited."""
    target = f"code={_code_label(code)}"
    async with desk_action(db, staff, "drive_list", target, now=now):
        point = require_role(staff, "staff").service_point
        if code is None:
            last = today + timedelta(days=LIST_AHEAD_DAYS)
            ahead = await drives.list_drives(db, today, last, run_by=point)
            if not ahead:
                raise NoDrive(code=None)
            drive = ahead[0]
        else:
            found = await drives.get_drive_by_code(db, code)
            if found is None or found.cancelled:
                raise NoDrive(code=_code_label(code))
            if found.run_by != point:
                raise WrongServicePoint()
            drive = found
        return await drive_list(db, drive)


def list_csv(listing: DriveList) -> bytes:
    """The list as CSV (UTF-8 with BOM for spreadsheets): time (WIB), booking code, name."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for entry in listing.entries:
        start = entry.booking.start_at.astimezone(TIMEZONE).strftime("%H:%M")
        writer.writerow((start, entry.booking.code, _cell(entry.name)))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def list_filename(listing: DriveList) -> str:
    """`keliling-<code>-<day>.csv`."""
    return f"keliling-{listing.drive.code}-{listing.drive.day.isoformat()}.csv"


# --- after the drive ---


async def finished_drives(db: Connection, *, since: date, day: date) -> list[Drive]:
    """Planned drives whose day is over by `day`: from the day before `since` to yesterday."""
    return await drives.list_drives(db, since - timedelta(days=1), day - timedelta(days=1))


async def drive_summary(db: Connection, drive: Drive) -> DriveOutcome:
    """The drive's places, booked, came, recorded and no-shows, in all and per desa (by name,
    busiest first)."""
    counts = await drives.booking_states_per_desa(db, drive.point_code, drive.day)
    lines = []
    for desa, states in counts.items():
        area = await get_area(db, desa)
        lines.append(_line(area.name if area else desa, states))
    lines.sort(key=lambda line: (-line.booked, line.name))
    every: dict[str, int] = defaultdict(int)
    for states in counts.values():
        for state, n in states.items():
            every[state] += n
    total = _line("", every)
    return DriveOutcome(
        drive=drive,
        places=places_of(drive),
        booked=total.booked,
        came=total.came,
        recorded=total.recorded,
        no_show=every.get("no_show", 0),
        per_desa=lines,
    )


async def summary_recipients(db: Connection, drive: Drive) -> list[int]:
    """Every admin, and every official whose area holds the drive's area or lies in it."""
    officials = [
        u.telegram_id
        for u in await users.list_users(db)
        if u.role == "official" and u.area_code and overlaps(u.area_code, drive.area_code)
    ]
    return sorted(set(await accounts_with_role(db, "admin")) | set(officials))


def overlaps(area: str, other: str) -> bool:
    """Whether one of two areas (plain codes) lies in the other: a desa and its kecamatan."""
    return area.startswith(other) or other.startswith(area)


def _line(name: str, states: dict[str, int]) -> DesaLine:
    booked = sum(n for state, n in states.items() if state not in DROPPED)
    came = sum(n for state, n in states.items() if state in CAME)
    return DesaLine(name, booked, came, states.get("recorded", 0))


def _code_label(code: str | None) -> str:
    """The typed code as it may be shown and audited (never a long typed text)."""
    if code is None:
        return "next"
    cleaned = code.strip().upper()
    return cleaned if cleaned.isalnum() and len(cleaned) <= CODE_LENGTH else "invalid"


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text
