"""What the booking and waitlist flows offer: the shortlist of points, the window's days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.services.booking_options import (
    POINTS_SHOWN,
    in_window,
    shortlisted_points,
    window_days,
)
from bot.services.schedule import points_for_service
from tests.services.test_booking import loaded, wib

__all__ = ["loaded"]  # the fixture


async def test_the_nearest_points_then_the_card_printers_wherever_they_rank(loaded):
    every = await points_for_service(loaded, "rekam", home_kecamatan="350503")  # Srengat
    shown = await shortlisted_points(loaded, "rekam", home_kecamatan="350503")
    assert shown[:POINTS_SHOWN] == every[:POINTS_SHOWN]
    farther = [p.code for p in shown[POINTS_SHOWN:]]
    assert farther == [p.code for p in every[POINTS_SHOWN:] if p.kind in ("office", "tla")]
    assert "kanigoro" in [p.code for p in shown]
    assert len(shown) < len(every)


async def test_a_short_list_is_shown_whole(loaded):
    printing = await shortlisted_points(loaded, "rusak", home_kecamatan="350503")
    assert [p.code for p in printing] == ["tla-srengat", "kanigoro", "tla-wlingi"]


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (date(2026, 11, 23), False),  # yesterday
        (date(2026, 11, 24), True),  # today
        (date(2026, 12, 7), True),  # the 14th day
        (date(2026, 12, 8), False),
    ],
)
def test_the_window_is_today_and_the_13_days_after_it(day, inside):
    assert in_window(day, now=wib(24, 10)) is inside


def test_the_window_follows_the_date_in_wib():
    late = wib(24, 23, 30)  # still the 24th in WIB, already the 24th 16:30 in UTC
    assert in_window(date(2026, 11, 24), now=late)
    assert not in_window(date(2026, 12, 8), now=late)
    assert in_window(date(2026, 12, 8), now=late + timedelta(hours=1))  # the 25th in WIB


def test_window_days_run_from_the_first_to_the_window_end():
    assert window_days(date(2026, 12, 5), now=wib(24, 10)) == [
        date(2026, 12, 5),
        date(2026, 12, 6),
        date(2026, 12, 7),
    ]
    assert len(window_days(date(2026, 11, 24), now=wib(24, 10))) == 14
