"""Opening hours as the office writes them, and the slot grid they make."""

from __future__ import annotations

from datetime import date, time

import pytest

from bot.services.opening_hours import parse_hours
from bot.services.points import update_point
from bot.services.schedule import free_slots, slot_starts
from bot.storage.service_points import get_service_point, seed_service_points
from tests.conftest import NOW


def test_default_hours():
    hours = parse_hours("mon-thu 08:00-14:30, fri 08:00-11:00")
    assert hours[0] == hours[3] == (time(8, 0), time(14, 30))
    assert hours[4] == (time(8, 0), time(11, 0))
    assert 5 not in hours
    assert 6 not in hours


@pytest.mark.parametrize(
    "text", ["", "mon", "xyz 08:00-10:00", "fri-mon 08:00-10:00", "mon 25:00-26:00"]
)
def test_bad_hours_are_refused(text):
    with pytest.raises(ValueError):  # noqa: PT011
        parse_hours(text)


async def test_a_point_with_saturday_hours_offers_saturday(engine_areas):
    db = engine_areas
    await seed_service_points(db)
    await update_point(db, "tla-srengat", hours="mon-sat 08:00-10:00", now=NOW)
    point = await get_service_point(db, "tla-srengat")
    saturday = date(2026, 11, 28)
    slots = await free_slots(db, point, saturday, now=NOW)
    assert [s.start_at for s in slots] == slot_starts(saturday, hours=parse_hours(point.hours))
    assert len(slots) == 4
    kanigoro = await get_service_point(db, "kanigoro")
    assert await free_slots(db, kanigoro, saturday, now=NOW) == []
