"""The reminder date rules, as pure functions: examples and properties."""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.crypto import Vault
from bot.services.cycle import Cycle, birthday_at, cycle_in_force
from bot.services.reminders import (
    Reminder,
    countdown_points,
    deactivated_due,
    deadline_due,
    is_deadline_subject,
    latest_due,
    monthly_after,
    teen_birth_window,
    teen_deadline,
    teen_due,
    teen_due_points,
)
from tests.conftest import SECRET_KEY

CYCLE_2026 = Cycle(date(2026, 12, 31), date(2027, 4, 30))
births = st.dates(min_value=date(1990, 1, 1), max_value=date(2015, 12, 31))
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
kawin = st.sampled_from(["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"])


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_teen_points_of_a_december_birthday():
    assert teen_due_points(date(2009, 12, 15)) == [
        date(2026, 11, 15),  # 30 days before turning 17
        date(2026, 12, 15),  # the 17th birthday
        date(2027, 1, 15),
        date(2027, 2, 15),
        date(2027, 3, 15),
        date(2027, 3, 31),  # deadline - 30
        date(2027, 4, 15),
        date(2027, 4, 16),  # deadline - 14
        date(2027, 4, 23),
        date(2027, 4, 27),
        date(2027, 4, 29),  # deadline - 1
    ]


def test_a_teen_turning_17_in_january_joins_the_next_cycle():
    assert teen_deadline(date(2010, 1, 5)) == date(2028, 4, 30)
    assert teen_deadline(date(2009, 12, 31)) == date(2027, 4, 30)
    points = teen_due_points(date(2010, 1, 5))
    assert points[:2] == [date(2026, 12, 6), date(2027, 1, 5)]
    assert points[-1] == date(2028, 4, 29)


def test_monthly_points_keep_the_day_or_the_month_end():
    assert monthly_after(date(2026, 1, 31), date(2026, 6, 1)) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]
    assert monthly_after(date(2026, 11, 30), date(2027, 1, 30)) == [
        date(2026, 12, 30),
        date(2027, 1, 30),
    ]


def test_born_on_29_february_turns_17_on_1_march():
    points = teen_due_points(date(2008, 2, 29))
    assert date(2025, 3, 1) in points
    assert date(2025, 1, 30) in points  # 30 days before
    assert date(2025, 4, 1) in points


def test_countdown_and_deadline_points():
    assert countdown_points(date(2027, 4, 30)) == [
        date(2027, 3, 31),
        date(2027, 4, 16),
        date(2027, 4, 23),
        date(2027, 4, 27),
        date(2027, 4, 29),
    ]
    assert deadline_due(CYCLE_2026, since=date(2027, 4, 23), today=date(2027, 4, 23)) == date(
        2027, 4, 23
    )
    assert deadline_due(CYCLE_2026, since=date(2027, 4, 24), today=date(2027, 4, 24)) is None
    # Missed days: the latest point of the window only.
    assert deadline_due(CYCLE_2026, since=date(2027, 4, 20), today=date(2027, 4, 28)) == date(
        2027, 4, 27
    )
    # Never after the deadline, even for a missed point.
    assert deadline_due(CYCLE_2026, since=date(2027, 4, 29), today=date(2027, 5, 1)) is None


def test_deadline_subjects_leave_the_cycles_teens_to_the_teen_rule():
    assert is_deadline_subject(date(2000, 1, 1), "BELUM KAWIN", CYCLE_2026)
    assert is_deadline_subject(date(2009, 12, 31), "KAWIN", CYCLE_2026)  # married teen
    assert is_deadline_subject(date(2012, 5, 1), "KAWIN", CYCLE_2026)  # married at 14
    assert not is_deadline_subject(date(2009, 12, 31), "BELUM KAWIN", CYCLE_2026)  # a teen
    assert not is_deadline_subject(date(2009, 1, 1), "BELUM KAWIN", CYCLE_2026)  # a teen
    assert is_deadline_subject(date(2008, 12, 31), "BELUM KAWIN", CYCLE_2026)  # 17 in 2025
    assert not is_deadline_subject(date(2010, 1, 1), "BELUM KAWIN", CYCLE_2026)  # not wajib


def test_deactivated_every_30_days():
    deactivated = date(2027, 5, 3)
    due = [
        d
        for d in _days(date(2027, 5, 1), date(2027, 8, 31))
        if deactivated_due(deactivated, since=d, today=d)
    ]
    assert due == [
        date(2027, 5, 3),
        date(2027, 6, 2),
        date(2027, 7, 2),
        date(2027, 8, 1),
        date(2027, 8, 31),
    ]
    assert deactivated_due(deactivated, since=date(2027, 5, 30), today=date(2027, 6, 5)) == date(
        2027, 6, 2
    )


def test_teen_reminders_stop_at_the_teens_deadline():
    birth = date(2009, 12, 15)
    assert teen_due(birth, since=date(2027, 4, 29), today=date(2027, 4, 29)) == date(2027, 4, 29)
    assert teen_due(birth, since=date(2027, 4, 29), today=date(2027, 5, 2)) is None
    assert teen_due(birth, since=date(2027, 5, 15), today=date(2027, 5, 15)) is None


def test_reminder_stage_and_days_left():
    def teen(today):
        return Reminder(
            kind="teen",
            chat_id=1,
            nik="x",
            name="Dewi",
            due=today,
            today=today,
            turns_17_on=date(2026, 12, 15),
            deadline=date(2027, 4, 30),
        )

    assert teen(date(2026, 11, 15)).stage == "before"
    assert teen(date(2026, 12, 15)).stage == "birthday"
    assert teen(date(2027, 1, 15)).stage == "after"
    assert teen(date(2027, 4, 23)).days_left == 7
    vault = Vault.from_secret(SECRET_KEY)
    reminder = replace(teen(date(2027, 4, 23)), nik_ref=bytes(range(32)), chat_id=4242)
    kind, opaque = reminder.key(vault).split(":")  # no resident, chat nor day in the key
    assert (kind, len(opaque)) == ("teen", 64)
    assert reminder.plan == f"{bytes(range(32)).hex()}:teen:4242:2027-04-23"  # kept sealed
    assert all(part not in opaque for part in ("0001020304", "4242", "2027", "04-23"))


@given(births)
def test_teen_points_are_sorted_unique_and_within_the_teen_window(birth):
    points = teen_due_points(birth)
    b17 = birthday_at(birth, 17)
    deadline = teen_deadline(birth)
    assert points == sorted(set(points))
    assert points[0] == b17 - timedelta(days=30)
    assert b17 in points
    assert set(countdown_points(deadline)) <= set(points)
    assert points[-1] <= deadline
    assert deadline == date(b17.year + 1, 4, 30)
    after = [p for p in points if p > b17 and p not in countdown_points(deadline)]
    assert len({(p.year, p.month) for p in after}) == len(after)  # at most one a month
    for point in after:
        assert point.day == min(b17.day, calendar.monthrange(point.year, point.month)[1])


@given(st.lists(days, max_size=20), days, st.integers(0, 10))
def test_latest_due_is_the_latest_point_in_the_window(points, today, back):
    since = today - timedelta(days=back)
    in_window = [p for p in points if since <= p <= today]
    assert latest_due(points, since=since, today=today) == (max(in_window) if in_window else None)


@given(days, days, st.integers(0, 10))
def test_deactivated_due_matches_every_thirtieth_day(deactivated, today, back):
    since = today - timedelta(days=back)
    expected = [
        d for d in _days(since, today) if d >= deactivated and (d - deactivated).days % 30 == 0
    ]
    assert deactivated_due(deactivated, since=since, today=today) == max(expected, default=None)


@given(births, st.integers(0, 7), st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 1, 1)))
def test_the_birth_window_holds_every_teen_due_in_the_run(birth, back, today):
    since = today - timedelta(days=back)
    born_from, born_until = teen_birth_window(since=since, today=today)
    if teen_due(birth, since=since, today=today) is not None:
        assert born_from <= birth <= born_until


@given(births, kawin, st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31)))
def test_nobody_gets_a_teen_and_a_deadline_reminder_on_one_day(birth, status_kawin, day):
    cycle = cycle_in_force(day)
    teen = status_kawin == "BELUM KAWIN" and teen_due(birth, since=day, today=day) is not None
    deadline = is_deadline_subject(birth, status_kawin, cycle) and (
        deadline_due(cycle, since=day, today=day) is not None
    )
    assert not (teen and deadline)


@given(births, st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31)))
def test_every_unmarried_resident_wajib_on_the_cohort_date_gets_a_countdown(birth, day):
    """Each countdown day of a cycle reaches every unmarried unrecorded resident wajib KTP on
    its cohort date: by the teen rule or by the deadline rule."""
    cycle = cycle_in_force(day)
    wajib = birthday_at(birth, 17) <= cycle.cohort_date
    if not wajib or day not in countdown_points(cycle.deadline):
        return
    teen = teen_due(birth, since=day, today=day) == day
    deadline = is_deadline_subject(birth, "BELUM KAWIN", cycle)
    assert teen != deadline
