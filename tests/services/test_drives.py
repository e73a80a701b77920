"""Mobile recording drives: every refusal changes nothing; bookings at a drive are ordinary
bookings at its own point, counted per drive slot, never mixed with the running point's."""

from __future__ import annotations

import asyncio
import random
from datetime import date, datetime

import pytest

from bot.config import TIMEZONE
from bot.db import transaction
from bot.domain import Booking
from bot.errors import (
    DriveUnavailable,
    InvalidDrive,
    NotAdmin,
    SlotFull,
    UnknownServicePoint,
    WrongServicePoint,
)
from bot.nik import make_nik
from bot.services import booking, frontdesk
from bot.services import drives as svc
from bot.services.schedule import free_slots, open_days
from bot.storage import bookings
from bot.storage.closures import insert_closure
from bot.storage.residents import get_resident, upsert_residents
from bot.storage.service_points import list_service_points
from tests.conftest import NOW, PEOPLE
from tests.desk import ADMIN, KANIGORO, OFFICIAL, WLINGI, db_of_each_engine, desk

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)


# NOW is Tuesday 24 November 2026, 10:00 WIB. Rudi lives in Srengat (350503), Dewi in Kanigoro.
RUDI, DEWI = PEOPLE["unrecorded"].nik, PEOPLE["turning17"].nik
DAY = date(2026, 11, 26)  # Thursday
SRENGAT_DESA = "3505032001"


def wib(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TIMEZONE)


async def plan(db, **changes):
    """A drive at a Srengat school for the whole kecamatan, run by TLA Srengat's staff."""
    given = {
        "admin": ADMIN,
        "name": "Perekaman keliling SMAN 1 Srengat",
        "place": "SMAN 1 Srengat, Jl. Raya Srengat 1",
        "day": DAY,
        "hours": "08:00-10:00",
        "capacity": 2,
        "area": "350503",
        "service_point": "tla-srengat",
        "latitude": -8.08,
        "longitude": 112.07,
        "now": NOW,
        "rng": random.Random(7),
    }
    return await svc.create_drive(db, **(given | changes))


async def snapshot(db):
    """Everything a refused drive must leave untouched."""
    rows = {}
    for table in ("drives", "service_points", "bookings"):
        rows[table] = list(await db.execute_fetchall(f"SELECT * FROM {table} ORDER BY 1"))
    return rows


async def refused_audits(db) -> list[str]:
    rows = await db.execute_fetchall(
        "SELECT action, detail FROM audit_log WHERE action LIKE 'drive:%' ORDER BY id"
    )
    return [f"{action} {detail}" for action, detail in rows]


async def residents_of(db, desa: str, count: int) -> list[str]:
    """Plant `count` unrecorded adults of the desa; return their NIKs."""
    niks = [make_nik(desa[:6], date(1990, 1, 1), "L", 300 + n) for n in range(count)]
    rows = [
        (
            nik,
            f"{desa[:6]}0101900001",
            f"Warga {n}",
            "1990-01-01",
            "L",
            "KAWIN",
            desa,
            None,
            "AKTIF",
        )
        for n, nik in enumerate(niks)
    ]
    async with transaction(db):
        await upsert_residents(db, rows, now=NOW)
    return niks


# --- creating ---


async def test_a_drive_is_a_point_open_on_its_day_only(desk):
    drive = await plan(desk)
    assert (drive.day, drive.hours, drive.capacity, drive.state) == (
        DAY,
        "08:00-10:00",
        2,
        "planned",
    )
    assert (drive.run_by, drive.area_code, drive.created_by) == (
        "tla-srengat",
        "350503",
        ADMIN.telegram_id,
    )
    assert drive.point.address == "SMAN 1 Srengat, Jl. Raya Srengat 1"
    assert drive.point.pinned
    assert [d.day for d in await open_days(desk, drive.point, now=NOW)] == [DAY]
    assert [s.remaining for s in await free_slots(desk, drive.point, DAY, now=NOW)] == [2] * 4
    assert drive.point_code not in {p.code for p in await list_service_points(desk)}
    assert await svc.get_drive_by_code(desk, drive.code.lower()) == drive
    assert await svc.get_drive_by_point(desk, drive.point_code) == drive


async def test_the_command_line_creates_without_an_account_and_without_a_pin(desk):
    drive = await plan(desk, admin=None, latitude=None, longitude=None)
    assert drive.created_by is None
    assert not drive.point.pinned  # no map pin is sent for it


async def test_the_deep_link_carries_the_code(desk):
    drive = await plan(desk)
    link = svc.deep_link("dukcapil_bot", drive)
    assert link == f"https://t.me/dukcapil_bot?start=drv_{drive.code}"
    assert svc.code_from_start(link.rsplit("=", 1)[1]) == drive.code
    assert svc.code_from_start(f"drv_{drive.code.lower()}") == drive.code
    assert svc.code_from_start("drv_0O1I") is None
    assert svc.code_from_start("status") is None


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"day": date(2026, 11, 23)}, "past"),
        ({"day": date(2026, 11, 24)}, "past"),  # today: too late to tell anyone
        ({"day": date(2027, 6, 1)}, "too_far"),
        ({"day": date(2026, 12, 25)}, "holiday"),  # Christmas
        ({"capacity": 0}, "capacity"),
        ({"capacity": 201}, "capacity"),
        ({"hours": "10:00-08:00"}, "hours"),
        ({"hours": "08:00-08:20"}, "hours"),  # no 30-minute slot
        ({"hours": "05:00-09:00"}, "hours"),
        ({"hours": "jam 8"}, "hours"),
        ({"area": "3578"}, "area"),  # Kota Surabaya: not the regency
        ({"area": "3505"}, "area"),  # the regency itself is no area a drive serves
        ({"area": "9999999999"}, "area"),
        ({"latitude": -7.25, "longitude": 112.75}, "coordinates"),  # Surabaya
        ({"latitude": -8.1, "longitude": None}, "coordinates"),
        ({"name": "   "}, "name"),
        ({"place": "x" * 201}, "place"),
    ],
)
async def test_every_bad_drive_is_refused_and_changes_nothing(desk, changes, kind):
    before = await snapshot(desk)
    with pytest.raises(InvalidDrive) as caught:
        await plan(desk, **changes)
    assert caught.value.context["kind"] == kind
    assert await snapshot(desk) == before
    assert (await refused_audits(desk))[-1].startswith("drive:create:refused ")


async def test_an_unknown_or_unfit_point_is_refused(desk):
    before = await snapshot(desk)
    with pytest.raises(UnknownServicePoint):
        await plan(desk, service_point="kec-atlantis")
    drive = await plan(desk)
    with pytest.raises(InvalidDrive) as caught:  # a drive cannot run another drive
        await plan(desk, service_point=drive.point_code)
    assert caught.value.context == {"kind": "point", "code": drive.point_code}
    assert len((await snapshot(desk))["drives"]) == len(before["drives"]) + 1


async def test_a_closure_of_the_running_point_refuses_the_day(desk):
    async with transaction(desk):
        await insert_closure(
            desk,
            service_point="tla-srengat",
            first_day=DAY,
            last_day=DAY,
            reason="Jaringan putus",
            created_by=None,
            now=NOW,
        )
    before = await snapshot(desk)
    with pytest.raises(InvalidDrive) as caught:
        await plan(desk)
    assert caught.value.context == {"kind": "closed", "reason": "Jaringan putus"}
    assert await snapshot(desk) == before


async def test_only_an_admin_plans_drives(desk):
    for user in (KANIGORO, OFFICIAL):
        with pytest.raises(NotAdmin):
            await plan(desk, admin=user)
    assert (await snapshot(desk))["drives"] == []


# --- who it serves ---


async def test_a_drive_serves_its_kecamatan_or_only_its_desa(desk):
    rudi, dewi = [await get_resident(desk, nik) for nik in (RUDI, DEWI)]
    kecamatan_wide = await plan(desk)
    desa_only = await plan(desk, area="35.05.10.2001", service_point="kanigoro")
    assert await svc.drives_serving(desk, rudi, NOW.date()) == [kecamatan_wide]
    assert await svc.drives_serving(desk, dewi, NOW.date()) == [desa_only]
    assert await svc.drives_serving(desk, SRENGAT_DESA, DAY) == [kecamatan_wide]
    assert await svc.drives_serving(desk, rudi, date(2026, 11, 27)) == []  # after its day
    assert await svc.drives_serving(desk, rudi, date(2026, 11, 10), days=14) == []  # before


async def test_a_cancelled_drive_serves_nobody_and_cancels_its_bookings(desk):
    drive = await plan(desk)
    booked = await svc.book_at_drive(
        desk, drive.code, chat_id=1, nik=RUDI, start_at=wib(DAY, 8), now=NOW
    )
    change = await svc.cancel_drive(desk, drive.code, admin=ADMIN, now=NOW)
    assert change.drive.cancelled
    assert [b.id for b in change.cancelled] == [booked.id]
    assert (await bookings.get_booking(desk, booked.id)).state == "cancelled"
    assert await svc.drives_serving(desk, SRENGAT_DESA, DAY) == []
    assert await free_slots(desk, change.drive.point, DAY, now=NOW) == []
    with pytest.raises(DriveUnavailable) as caught:
        await svc.book_at_drive(
            desk, drive.code, chat_id=1, nik=RUDI, start_at=wib(DAY, 9), now=NOW
        )
    assert caught.value.context == {"kind": "drive_gone"}
    with pytest.raises(InvalidDrive) as again:
        await svc.cancel_drive(desk, drive.code, admin=ADMIN, now=NOW)
    assert again.value.context == {"kind": "cancelled"}


async def test_a_new_day_cancels_every_booking_new_hours_only_those_off_the_grid(desk):
    drive = await plan(desk, capacity=3)
    early, late = [
        await svc.book_at_drive(desk, drive.code, chat_id=1, nik=nik, start_at=at, now=NOW)
        for nik, at in ((RUDI, wib(DAY, 8)), (PEOPLE["deactivated"].nik, wib(DAY, 9, 30)))
    ]
    shorter = await svc.change_drive(desk, drive.code, admin=ADMIN, hours="08:00-09:00", now=NOW)
    assert [b.id for b in shorter.cancelled] == [late.id]
    assert shorter.drive.hours == "08:00-09:00"
    moved = await svc.change_drive(desk, drive.code, admin=ADMIN, day=date(2026, 11, 30), now=NOW)
    assert [b.id for b in moved.cancelled] == [early.id]
    assert moved.drive.day == date(2026, 11, 30)
    assert moved.drive.point.hours == "mon 08:00-09:00"
    assert [d.day for d in await open_days(desk, moved.drive.point, now=NOW)] == [moved.drive.day]


async def test_a_bad_change_changes_nothing(desk):
    drive = await plan(desk)
    before = await snapshot(desk)
    for changes in ({"day": date(2026, 12, 25)}, {"capacity": 0}, {"hours": "9-8"}):
        with pytest.raises(InvalidDrive):
            await svc.change_drive(desk, drive.code, admin=ADMIN, now=NOW, **changes)
    with pytest.raises(InvalidDrive) as caught:
        await svc.change_drive(desk, "ZZZZZZ", admin=ADMIN, capacity=3, now=NOW)
    assert caught.value.context == {"kind": "not_found", "code": "ZZZZZZ"}
    assert await snapshot(desk) == before


# --- booking at a drive ---


async def test_someone_outside_the_area_cannot_book_it(desk):
    drive = await plan(desk)
    with pytest.raises(DriveUnavailable) as caught:
        await svc.book_at_drive(
            desk, drive.code, chat_id=1, nik=DEWI, start_at=wib(DAY, 8), now=NOW
        )
    assert caught.value.context == {"kind": "not_in_area"}
    assert (await snapshot(desk))["bookings"] == []


async def test_a_drive_booking_is_an_ordinary_booking_at_the_drive(desk):
    drive = await plan(desk)
    booking = await svc.book_at_drive(
        desk, drive.code, chat_id=1, nik=RUDI, start_at=wib(DAY, 8), now=NOW
    )
    assert (booking.service, booking.service_point, booking.day) == ("rekam", drive.point_code, DAY)
    assert (booking.queue_number, booking.state) == (1, "confirmed")  # confirmed at once
    assert await svc.drive_bookings(desk, drive) == [booking]


async def test_capacity_per_drive_slot_under_contention_never_mixed_with_the_running_point(desk):
    """30 residents of the kecamatan want the same 2-place drive slot at once: 2 get it; the
    running point's own slot at the same time keeps all its places."""
    drive = await plan(desk)
    niks = await residents_of(desk, SRENGAT_DESA, 30)
    attempts = [
        svc.book_at_drive(
            desk, drive.code, chat_id=2000 + n, nik=nik, start_at=wib(DAY, 8), now=NOW
        )
        for n, nik in enumerate(niks)
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    booked = [r for r in results if isinstance(r, Booking)]
    full = [r for r in results if isinstance(r, SlotFull)]
    assert (len(booked), len(full)) == (2, 28)
    assert sorted(b.queue_number for b in booked) == [1, 2]
    assert await bookings.count_active_in_slot(desk, drive.point_code, wib(DAY, 8)) == 2
    assert await bookings.count_active_in_slot(desk, "tla-srengat", wib(DAY, 8)) == 0
    (first,) = [s for s in await free_slots(desk, drive.point, DAY, now=NOW)][:1]
    assert first.start_at == wib(DAY, 8, 30)  # the full slot is no longer offered
    srengat = next(p for p in await list_service_points(desk) if p.code == "tla-srengat")
    at_eight = [
        s for s in await free_slots(desk, srengat, DAY, now=NOW) if s.start_at == wib(DAY, 8)
    ]
    assert [s.remaining for s in at_eight] == [srengat.slot_capacity]


async def test_the_running_points_staff_check_in_at_the_drive_and_nobody_else(desk):
    drive = await plan(desk, service_point="kanigoro", area="350503")
    booking = await svc.book_at_drive(
        desk, drive.code, chat_id=1, nik=RUDI, start_at=wib(DAY, 8), now=NOW
    )
    on_the_day = wib(DAY, 8, 5)
    with pytest.raises(WrongServicePoint):
        await frontdesk.check_in(desk, booking.code, staff=WLINGI, now=on_the_day)
    checked = await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=on_the_day)
    assert checked.state == "checked_in"
    done = await frontdesk.record_outcome(
        desk, booking.id, "recorded", staff=KANIGORO, now=on_the_day
    )
    assert done.state == "recorded"
    assert (await get_resident(desk, RUDI)).tanggal_rekam == DAY


async def test_the_ordinary_booking_refuses_an_outsider_at_a_drive_point(desk):
    """However the drive's point code reached the booking (an old or forged button), the write
    transaction checks the area."""
    drive = await plan(desk)
    with pytest.raises(DriveUnavailable) as caught:
        await booking.book(
            desk,
            chat_id=1,
            nik=DEWI,
            service="rekam",
            point_code=drive.point_code,
            start_at=wib(DAY, 8),
            now=NOW,
        )
    assert caught.value.context == {"kind": "not_in_area"}
    assert (await snapshot(desk))["bookings"] == []
