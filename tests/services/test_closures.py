"""An admin closes points for some days: the bookings there are cancelled, no slot is offered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import InvalidClosure, InvalidReason, NotAdmin, UnknownServicePoint
from bot.services import frontdesk
from bot.services.closures import close_point
from bot.services.schedule import free_slots, open_days, wib_day
from bot.storage.service_points import get_service_point
from tests.conftest import NOW
from tests.desk import (
    ADMIN,
    CHAT,
    KANIGORO,
    OFFICIAL,
    TODAY,
    audit_rows,
    book_at,
    db_of_each_engine,
    desk,
    queued_reminder,
    reread,
    slot,
)

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)


# --- admin: closures ---


async def test_closure_cancels_bookings_and_blocks_new_ones(desk):
    point = await get_service_point(desk, "kanigoro")
    day = wib_day(await slot(desk, "kanigoro"))
    first = await book_at(desk, "unrecorded", day=day)
    second = await book_at(desk, "deactivated", day=day)
    await frontdesk.confirm(desk, second.id, staff=KANIGORO, now=NOW)
    elsewhere = await book_at(desk, "turning17", point="tla-wlingi", day=day, chat=CHAT + 1)
    cancelled = await close_point(
        desk,
        admin=ADMIN,
        point_code="kanigoro",
        first_day=day,
        last_day=day,
        reason="Gangguan jaringan",
        now=NOW,
    )
    assert [(b.id, b.state, b.reason) for b in cancelled] == [
        (first.id, "cancelled", "Gangguan jaringan"),
        (second.id, "cancelled", "Gangguan jaringan"),
    ]
    assert (await reread(desk, elsewhere)).state == "pending"
    assert day not in [d.day for d in await open_days(desk, point, now=NOW)]
    assert await free_slots(desk, point, day, now=NOW) == []
    rows = await audit_rows(desk)
    assert [r[1] for r in rows if r[0] == ADMIN.telegram_id][-3:] == [
        "staffdesk:close_point",
        "staffdesk:cancelled",
        "staffdesk:cancelled",
    ]


async def test_closing_every_point(desk):
    day = wib_day(await slot(desk, "kanigoro"))
    here = await book_at(desk, "unrecorded", day=day)
    there = await book_at(desk, "turning17", point="tla-wlingi", day=day, chat=CHAT + 1)
    cancelled = await close_point(
        desk,
        admin=ADMIN,
        point_code=None,
        first_day=TODAY,
        last_day=day + timedelta(days=3),
        reason="Cuti bersama",
        now=NOW,
    )
    assert {b.id for b in cancelled} == {here.id, there.id}
    for code in ("kanigoro", "tla-wlingi", "kec-wonodadi"):
        point = await get_service_point(desk, code)
        assert day not in [d.day for d in await open_days(desk, point, now=NOW)]


@pytest.mark.parametrize(
    ("first", "last", "kind"),
    [
        (TODAY + timedelta(days=2), TODAY + timedelta(days=1), "order"),
        (TODAY - timedelta(days=1), TODAY, "past"),
        (TODAY, TODAY + timedelta(days=400), "too_long"),
    ],
)
async def test_closure_dates_are_checked(desk, first, last, kind):
    booking = await book_at(desk)
    with pytest.raises(InvalidClosure) as caught:
        await close_point(
            desk,
            admin=ADMIN,
            point_code="kanigoro",
            first_day=first,
            last_day=last,
            reason="x",
            now=NOW,
        )
    assert caught.value.context["kind"] == kind
    assert (await reread(desk, booking)).state == "pending"
    async with desk.execute("SELECT count(*) FROM closures") as cursor:
        assert (await cursor.fetchone())[0] == 0


async def test_closure_of_an_unknown_point_or_without_reason(desk):
    with pytest.raises(UnknownServicePoint):
        await close_point(
            desk,
            admin=ADMIN,
            point_code="kec-atlantis",
            first_day=TODAY,
            last_day=TODAY,
            reason="x",
            now=NOW,
        )
    with pytest.raises(InvalidReason):
        await close_point(
            desk,
            admin=ADMIN,
            point_code="kanigoro",
            first_day=TODAY,
            last_day=TODAY,
            reason=" ",
            now=NOW,
        )


async def test_a_closure_withdraws_the_cancelled_bookings_reminders(desk):
    booking = await book_at(desk, day=None)
    reminder = await queued_reminder(desk, booking)
    await close_point(
        desk,
        admin=ADMIN,
        point_code="kanigoro",
        first_day=booking.day,
        last_day=booking.day,
        reason="Gangguan jaringan",
        now=NOW,
    )
    assert (await reminder()).state == "withdrawn"


@pytest.mark.parametrize("actor", [None, KANIGORO, OFFICIAL], ids=["citizen", "staff", "official"])
async def test_only_admins_close_points(desk, actor):
    with pytest.raises(NotAdmin):
        await close_point(
            desk,
            admin=actor,
            point_code="kanigoro",
            first_day=TODAY,
            last_day=TODAY,
            reason="x",
            now=NOW,
        )
    assert (await book_at(desk)).state == "pending"
