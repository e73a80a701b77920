"""What the staff and admin service tests share: the planted residents, service points and
one account of each role (the `desk` fixture), and helpers to book and read the audit."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.domain import RoleUser
from bot.services import outbox
from bot.services.booking import book
from bot.services.directory import note_chat
from bot.services.importer import import_residents
from bot.services.roles import add_user
from bot.services.schedule import free_slots, open_days, wib_day
from bot.storage import outbox as outbox_store
from bot.storage.bookings import get_booking
from bot.storage.service_points import (
    get_service_point,
    list_service_points,
    seed_service_points,
)
from tests.conftest import NOW, PEOPLE, write_population

KANIGORO = RoleUser(101, "staff", "kanigoro", None)
WLINGI = RoleUser(102, "staff", "tla-wlingi", None)
OFFICIAL = RoleUser(103, "official", None, "3505102001")
ADMIN = RoleUser(104, "admin", None, None)
CHAT = 5000
TODAY = wib_day(NOW)  # Tuesday 24 November 2026


@pytest.fixture(name="db")
def db_of_each_engine(engine_areas):
    """Imported into a test module, `db` (and so `desk`) is each engine's in turn there."""
    return engine_areas


@pytest.fixture
async def desk(db, tmp_path):
    """Service points, the planted residents, and one account of each role."""
    await seed_service_points(db)
    report = await import_residents(db, write_population(tmp_path / "siak.csv"), now=NOW)
    assert report.rejected == []
    for user in (KANIGORO, WLINGI, OFFICIAL, ADMIN):
        await add_user(
            db,
            user.telegram_id,
            user.role,
            service_point=user.service_point,
            area=user.area_code,
            now=NOW,
        )
        await note_chat(db, user.telegram_id, locale="id", now=NOW)  # they have opened the bot
    return db


async def staff_at_every_point(db, *, first_id: int = 700) -> None:
    """A staff member who has opened the bot at every service point: new bookings wait for
    them ("pending"), as they do wherever someone can confirm (else they start confirmed)."""
    for n, point in enumerate(await list_service_points(db)):
        await add_user(db, first_id + n, "staff", service_point=point.code, area=None, now=NOW)
        await note_chat(db, first_id + n, locale="id", now=NOW)


async def slot(db, point_code: str, *, day: date | None = None) -> datetime:
    """The first free slot at the point: today's, or on `day`, or on the first open day after."""
    point = await get_service_point(db, point_code)
    if day is None:
        days = [d.day for d in await open_days(db, point, now=NOW) if d.day > TODAY]
        day = days[0]
    slots = await free_slots(db, point, day, now=NOW)
    return slots[0].start_at


async def book_at(db, who="unrecorded", *, point="kanigoro", service="rekam", day=TODAY, chat=CHAT):
    """A booking for one of the planted people, in the first free slot (see `slot`)."""
    start = await slot(db, point, day=day)
    return await book(
        db,
        chat_id=chat,
        nik=PEOPLE[who].nik,
        service=service,
        point_code=point,
        start_at=start,
        now=NOW,
    )


async def audit_rows(db, action: str | None = None) -> list[tuple[int | None, str, str]]:
    """The booking desk's audit rows (all, or one action's), oldest first."""
    query = "SELECT actor_id, action, detail FROM audit_log WHERE action LIKE 'staffdesk:%'"
    async with db.execute(query + " ORDER BY id") as cursor:
        rows = [tuple(row) async for row in cursor]
    return [r for r in rows if action is None or r[1] == f"staffdesk:{action}"]


def no_full_nik(rows) -> bool:
    return not any(person.nik in str(row) for row in rows for person in PEOPLE.values())


async def reread(db, booking):
    return await get_booking(db, booking.id)


async def queued_reminder(db, booking):
    """Queue the booking's eve reminder; return a reader of its outbox row."""
    key = f"booking:{booking.id}:eve:{booking.start_at.isoformat()}"
    await outbox.enqueue(
        db, key=key, chat_id=booking.chat_id, kind="booking", text="Besok", now=NOW
    )
    return lambda: outbox_store.get_message_by_key(db, key)
