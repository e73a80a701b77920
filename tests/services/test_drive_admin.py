"""/keliling's answers, one at a time: each typed answer is checked with create_drive's rules
before anything is written; a change says how many bookings it would cancel."""

from __future__ import annotations

from datetime import date

import pytest

from bot.errors import DomainError, InvalidDrive, UnknownServicePoint
from bot.services import drive_admin, drives
from bot.services.broadcasts import InvalidDay
from bot.services.opening_hours import parse_hours
from bot.services.schedule import slot_starts
from bot.storage.closures import insert_closure
from tests.conftest import NOW, PEOPLE
from tests.desk import ADMIN, db_of_each_engine, desk

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)

DAY = date(2026, 11, 26)  # Thursday; NOW is Tuesday 24 November 2026, 10:00 WIB


async def read(db, field: str, text: str, **draft):
    return await drive_admin.read_answer(db, field, text, draft=draft, now=NOW)


@pytest.mark.parametrize(
    ("field", "typed", "kept"),
    [
        ("name", "  Perekaman  keliling SMAN 1 ", "Perekaman keliling SMAN 1"),
        ("place", "Aula, Jl. Raya 1", "Aula, Jl. Raya 1"),
        ("day", "26-11-2026", "2026-11-26"),
        ("day", "26 Nov 2026", "2026-11-26"),
        ("hours", "8:00 - 12:30", "08:00-12:30"),
        ("capacity", " 12 ", 12),
        ("area", "35.05.03.2001", "3505032001"),
        ("area", "350503", "350503"),
    ],
)
async def test_a_right_answer_is_kept_as_the_draft_holds_it(desk, field, typed, kept):
    assert await read(desk, field, typed) == kept


@pytest.mark.parametrize(
    ("field", "typed", "error", "kind"),
    [
        ("name", " ", InvalidDrive, "name"),
        ("place", "x" * 201, InvalidDrive, "place"),
        ("day", "besok", InvalidDay, "date"),
        ("day", "30-02-2027", InvalidDay, "date"),
        ("day", "24-11-2026", InvalidDrive, "past"),
        ("day", "25-12-2026", InvalidDrive, "holiday"),
        ("day", "01-06-2027", InvalidDrive, "too_far"),
        ("hours", "12:00-08:00", InvalidDrive, "hours"),
        ("hours", "pagi", InvalidDrive, "hours"),
        ("capacity", "0", InvalidDrive, "capacity"),
        ("capacity", "²", InvalidDrive, "capacity"),
        ("area", "35.06.01", InvalidDrive, "area"),
        ("area", "3505", InvalidDrive, "area"),  # the regency itself is no desa or kecamatan
    ],
)
async def test_a_wrong_answer_says_what_is_wrong(desk, field, typed, error, kind):
    with pytest.raises(error) as raised:
        await read(desk, field, typed)
    assert raised.value.context["kind"] == kind


async def test_the_point_must_be_known_and_open_that_day(desk):
    with pytest.raises(UnknownServicePoint):
        await read(desk, "point", "atlantis", day="2026-11-26")
    assert await read(desk, "point", " TLA-Srengat ", day="2026-11-26") == "tla-srengat"
    await insert_closure(
        desk,
        service_point="tla-srengat",
        first_day=DAY,
        last_day=DAY,
        reason="genset rusak",
        created_by=ADMIN.telegram_id,
        now=NOW,
    )
    with pytest.raises(InvalidDrive) as raised:
        await read(desk, "point", "tla-srengat", day="2026-11-26")
    assert raised.value.context == {"kind": "closed", "reason": "genset rusak"}
    assert await read(desk, "point", "kec-srengat", day="2026-11-26") == "kec-srengat"


async def test_nothing_is_written_while_answers_are_read(desk):
    for field, typed in [("name", "A"), ("day", "26-11-2026"), ("area", "350503")]:
        await read(desk, field, typed)
    with pytest.raises(DomainError):
        await read(desk, "capacity", "0")
    rows = await desk.execute_fetchall("SELECT count(*) FROM drives")
    assert list(rows) == [(0,)]


async def test_a_change_says_how_many_bookings_it_cancels(desk):
    drive = await drives.create_drive(
        desk,
        admin=ADMIN,
        name="Perekaman keliling SMAN 1 Srengat",
        place="SMAN 1 Srengat",
        day=DAY,
        hours="08:00-10:00",
        capacity=3,
        area="350503",
        service_point="tla-srengat",
        now=NOW,
    )
    starts = slot_starts(DAY, hours=parse_hours(f"mon-sun {drive.hours}"))
    for who, start in (("unrecorded", starts[0]), ("deactivated", starts[3])):  # 08:00, 09:30
        await drives.book_at_drive(
            desk, drive.code, chat_id=7000, nik=PEOPLE[who].nik, start_at=start, now=NOW
        )
    assert await drive_admin.booked(desk, drive) == 2
    assert await drive_admin.affected(desk, drive, "day", "2026-11-27") == 2
    assert await drive_admin.affected(desk, drive, "hours", "08:00-09:30") == 1
    assert await drive_admin.affected(desk, drive, "hours", "07:00-12:00") == 0
    assert await drive_admin.affected(desk, drive, "capacity", 1) == 0
    change = await drives.change_drive(
        desk, drive.code, admin=ADMIN, **drive_admin.change_value("hours", "08:00-09:30"), now=NOW
    )
    assert len(change.cancelled) == 1  # as the confirmation said
