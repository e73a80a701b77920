"""The slot grid and the calendar: hours, holidays, closures, places left, WIB/UTC edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import TIMEZONE
from bot.services import schedule
from bot.services.schedule import (
    DEFAULT_HOURS,
    OpenDay,
    Slot,
    free_slots,
    is_holiday,
    is_open,
    offers_service,
    open_days,
    points_for_service,
    slot_starts,
)
from bot.services.waitlist import expire_offers
from bot.storage import waitlist as waitlist_store
from bot.storage.closures import closed_days, insert_closure
from bot.storage.service_points import get_service_point, list_service_points
from tests.conftest import NOW
from tests.services.test_booking import RUDI, add_residents, book, loaded, wib

__all__ = ["loaded"]  # the fixture, shared with the booking tests

MONDAY, FRIDAY, SATURDAY = date(2026, 11, 23), date(2026, 11, 27), date(2026, 11, 28)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


async def point(db, code="kanigoro"):
    found = await get_service_point(db, code)
    assert found is not None
    return found


async def close(db, code, first, last=None, reason="Gangguan jaringan"):
    await insert_closure(
        db,
        service_point=code,
        first_day=first,
        last_day=last or first,
        reason=reason,
        created_by=None,
        now=NOW,
    )


# --- the grid ---


def test_monday_has_13_slots_from_0800_to_1400_wib():
    starts = slot_starts(MONDAY)
    assert len(starts) == 13
    assert (starts[0], starts[-1]) == (utc(wib(23, 8)), utc(wib(23, 14)))
    assert all(s.tzinfo == UTC for s in starts)


def test_friday_has_6_slots_until_1030_wib():
    starts = slot_starts(FRIDAY)
    times = [s.astimezone(TIMEZONE).strftime("%H:%M") for s in starts]
    assert times == ["08:00", "08:30", "09:00", "09:30", "10:00", "10:30"]


def test_weekend_has_no_slots():
    assert slot_starts(SATURDAY) == slot_starts(SATURDAY + timedelta(days=1)) == []


def test_the_first_slot_is_on_the_previous_utc_date():
    assert slot_starts(MONDAY)[0] == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert slot_starts(date(2026, 11, 24))[0].date() == date(2026, 11, 24)


@st.composite
def opening_hours(draw):
    opening = draw(st.integers(0, 22 * 60))
    closing = draw(st.integers(opening, 24 * 60 - 1))
    as_time = lambda minutes: time(minutes // 60, minutes % 60)  # noqa: E731
    return {draw(st.integers(0, 6)): (as_time(opening), as_time(closing))}


@given(day=st.dates(date(2020, 1, 1), date(2035, 12, 31)), hours=opening_hours())
def test_property_every_slot_lies_inside_opening_hours(day, hours):
    starts = slot_starts(day, hours=hours)
    if day.weekday() not in hours:
        assert starts == []
        return
    opening, closing = hours[day.weekday()]
    open_at = datetime.combine(day, opening, tzinfo=TIMEZONE)
    close_at = datetime.combine(day, closing, tzinfo=TIMEZONE)
    assert len(starts) == (close_at - open_at) // timedelta(minutes=30)
    assert all(s.tzinfo == UTC and s.utcoffset() == timedelta(0) for s in starts)
    assert all(open_at <= s and s + schedule.SLOT <= close_at for s in starts)
    assert all(b - a == timedelta(minutes=30) for a, b in pairwise(starts))
    assert all(s.astimezone(TIMEZONE).date() == day for s in starts)


@given(st.dates(date(2024, 1, 1), date(2030, 12, 31)))
def test_property_default_grid(day):
    starts = slot_starts(day)
    expected = {0: 13, 1: 13, 2: 13, 3: 13, 4: 6}.get(day.weekday(), 0)
    assert len(starts) == expected
    for start in starts:
        local = start.astimezone(TIMEZONE)
        opening, closing = DEFAULT_HOURS[day.weekday()]
        assert opening <= local.time()
        assert (local + schedule.SLOT).time() <= closing


# --- holidays and services ---


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        (date(2026, 12, 25), True),
        (date(2026, 8, 17), True),
        (date(2026, 1, 1), True),
        (date(2026, 11, 24), False),
        (date(2026, 12, 24), False),
    ],
)
def test_is_holiday(day, holiday):
    assert is_holiday(day) is holiday


@pytest.mark.parametrize(
    ("code", "offered"),
    [
        ("kanigoro", {"rekam", "rusak", "hilang", "ambil"}),
        ("tla-srengat", {"rekam", "rusak", "hilang", "ambil"}),
        ("kec-wonodadi", {"rekam"}),
    ],
)
async def test_offers_service(loaded, code, offered):
    found = await point(loaded, code)
    assert {s for s in ("rekam", "rusak", "hilang", "ambil") if offers_service(found, s)} == offered


async def test_points_nearest_to_the_home_kecamatan_first(loaded):
    points = await points_for_service(loaded, "rekam", home_kecamatan="350503")  # Srengat
    assert [p.code for p in points[:2]] == ["kec-srengat", "tla-srengat"]
    assert len(points) == 25
    printing = await points_for_service(loaded, "rusak", home_kecamatan="350503")
    assert [p.code for p in printing] == ["tla-srengat", "kanigoro", "tla-wlingi"]
    wlingi = await points_for_service(loaded, "hilang", home_kecamatan="350517")
    assert wlingi[0].code == "tla-wlingi"


async def test_unknown_home_keeps_the_default_order(loaded):
    default = [p.code for p in await list_service_points(loaded)]
    assert [p.code for p in await points_for_service(loaded, "rekam", home_kecamatan=None)] == (
        default
    )
    unknown = await points_for_service(loaded, "ambil", home_kecamatan="999999")
    assert [p.code for p in unknown] == ["kanigoro", "tla-srengat", "tla-wlingi"]


async def test_inactive_points_are_not_listed_nor_open(loaded):
    await loaded.execute("UPDATE service_points SET active = 0 WHERE code = 'kec-srengat'")
    points = await points_for_service(loaded, "rekam", home_kecamatan="350503")
    assert "kec-srengat" not in [p.code for p in points]
    assert points[0].code == "tla-srengat"
    assert not await is_open(loaded, await point(loaded, "kec-srengat"), date(2026, 11, 25))


# --- the calendar ---


async def test_open_days_from_today_for_14_days(loaded):
    days = await open_days(loaded, await point(loaded), now=NOW)  # Tuesday 24 Nov, 10:00 WIB
    assert [d.day.day for d in days] == [24, 25, 26, 27, 30, 1, 2, 3, 4, 7]
    assert days[0] == OpenDay(date(2026, 11, 24), 7 * 10)  # 11:00 .. 14:00 left today
    assert days[1] == OpenDay(date(2026, 11, 25), 13 * 10)
    assert days[3] == OpenDay(date(2026, 11, 27), 6 * 10)


@pytest.mark.parametrize(
    ("now", "first", "first_slot", "last"),
    [
        (wib(23, 23, 30), date(2026, 11, 24), wib(24, 8), date(2026, 12, 4)),
        (wib(24, 0, 30), date(2026, 11, 24), wib(24, 8), date(2026, 12, 7)),
        (wib(24, 6, 59), date(2026, 11, 24), wib(24, 8), date(2026, 12, 7)),
        (wib(24, 7, 0), date(2026, 11, 24), wib(24, 8), date(2026, 12, 7)),
        (wib(24, 7, 1), date(2026, 11, 24), wib(24, 8, 30), date(2026, 12, 7)),
        (wib(24, 13, 1), date(2026, 11, 25), wib(25, 8), date(2026, 12, 7)),
    ],
)
async def test_calendar_around_midnight_and_the_utc_date_change(
    loaded, now, first, first_slot, last
):
    kanigoro = await point(loaded)
    days = await open_days(loaded, kanigoro, now=now)
    assert (days[0].day, days[-1].day) == (first, last)
    slots = await free_slots(loaded, kanigoro, first, now=now)
    assert slots[0].start_at == utc(first_slot)
    assert slots[0].start_at.tzinfo == UTC


async def test_holidays_weekends_and_closures_are_not_offered(loaded):
    kanigoro, wlingi = await point(loaded), await point(loaded, "tla-wlingi")
    await close(loaded, "kanigoro", date(2026, 12, 21), date(2026, 12, 22), "Blangko habis")
    await close(loaded, None, date(2026, 12, 24), reason="Cuti bersama")
    friday = wib(18, 9, month=12)
    days = [d.day.day for d in await open_days(loaded, kanigoro, now=friday)]
    assert days == [18, 23, 28, 29, 30, 31]  # 25 Dec is Christmas, weekends closed
    wlingi_days = [d.day.day for d in await open_days(loaded, wlingi, now=friday)]
    assert wlingi_days == [18, 21, 22, 23, 28, 29, 30, 31]


async def test_closed_days_gives_the_reasons(loaded):
    await close(loaded, "kanigoro", date(2026, 11, 25), date(2026, 11, 27), "Blangko habis")
    await close(loaded, None, date(2026, 11, 27), date(2026, 12, 1), "Cuti bersama")
    await close(loaded, "tla-wlingi", date(2026, 11, 26), reason="Listrik padam")
    found = await closed_days(loaded, "kanigoro", date(2026, 11, 26), date(2026, 11, 30))
    assert found == {
        date(2026, 11, 26): "Blangko habis",
        date(2026, 11, 27): "Blangko habis",
        date(2026, 11, 28): "Cuti bersama",
        date(2026, 11, 29): "Cuti bersama",
        date(2026, 11, 30): "Cuti bersama",
    }


async def test_is_open(loaded):
    kanigoro = await point(loaded)
    await close(loaded, "kanigoro", date(2026, 11, 26))
    assert await is_open(loaded, kanigoro, date(2026, 11, 25))
    for day in (date(2026, 11, 26), SATURDAY, date(2026, 12, 25)):
        assert not await is_open(loaded, kanigoro, day)


async def test_a_full_day_is_not_offered(loaded):
    kecamatan = await point(loaded, "kec-kanigoro")
    niks = await add_residents(loaded, 18)
    for n, nik in enumerate(niks):  # Friday the 27th: 6 slots of 3 places
        await book(loaded, nik, chat=n, point="kec-kanigoro", at=slot_starts(FRIDAY)[n // 3])
    assert await free_slots(loaded, kecamatan, FRIDAY, now=NOW) == []
    assert FRIDAY not in [d.day for d in await open_days(loaded, kecamatan, now=NOW)]


async def test_free_slots_count_bookings_and_held_offers(loaded):
    kecamatan = await point(loaded, "kec-kanigoro")
    nine = utc(wib(25, 9))
    await book(loaded, RUDI, point="kec-kanigoro", at=nine)
    entry = await waitlist_store.insert_entry(
        loaded,
        chat_id=9,
        nik=RUDI,
        service="rekam",
        service_point="kec-kanigoro",
        first_day=date(2026, 11, 25),
        last_day=date(2026, 11, 25),
        now=NOW,
    )
    await waitlist_store.insert_offer(
        loaded,
        waitlist_id=entry,
        service_point="kec-kanigoro",
        start_at=nine,
        expires_at=NOW + timedelta(minutes=10),
        now=NOW,
    )
    slots = await free_slots(loaded, kecamatan, date(2026, 11, 25), now=NOW)
    assert slots[:3] == [Slot(utc(wib(25, 8)), 3), Slot(utc(wib(25, 8, 30)), 3), Slot(nine, 1)]
    expired = NOW + timedelta(minutes=10)
    still = await free_slots(loaded, kecamatan, date(2026, 11, 25), now=expired)
    assert still[2] == Slot(nine, 1)  # held until the expiry job hands it on: no sniping gap
    assert await expire_offers(loaded, now=expired) == []  # nobody else is waiting
    later = await free_slots(loaded, kecamatan, date(2026, 11, 25), now=expired)
    assert later[2] == Slot(nine, 2)


@pytest.mark.parametrize(
    "day",
    [date(2026, 11, 23), date(2026, 12, 8), SATURDAY],
    ids=["yesterday", "beyond-the-window", "saturday"],
)
async def test_no_free_slots_outside_the_calendar(loaded, day):
    assert await free_slots(loaded, await point(loaded), day, now=NOW) == []
