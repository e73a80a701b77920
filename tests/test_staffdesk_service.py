"""The staff and admin side of the queue: every transition, every refusal, every audit row."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.errors import BookingNotFound, NotAuthorized, NotChangeable
from bot.services import staffdesk
from bot.services.booking import book
from bot.services.importer import import_residents
from bot.services.roles import add_user
from bot.services.schedule import free_slots, open_days, wib_day
from bot.services.staffdesk import (
    InvalidClosure,
    InvalidReason,
    NotAdmin,
    NotStaff,
    StaffBookingNotFound,
    UnknownServicePoint,
    WrongServicePoint,
)
from bot.services.waitlist import join_waitlist
from bot.storage.residents import get_resident
from bot.storage.service_points import get_service_point, seed_service_points
from bot.storage.users import RoleUser
from tests.conftest import NOW, PEOPLE, write_population

KANIGORO = RoleUser(101, "staff", "kanigoro", None)
WLINGI = RoleUser(102, "staff", "tla-wlingi", None)
OFFICIAL = RoleUser(103, "official", None, "3505102001")
ADMIN = RoleUser(104, "admin", None, None)
CHAT = 5000
TODAY = wib_day(NOW)  # Tuesday 24 November 2026


@pytest.fixture
async def desk(db, tmp_path):
    """Service points, the planted residents, and one account of each role."""
    await seed_service_points(db)
    report = await import_residents(db, write_population(tmp_path / "siak.csv"), now=NOW)
    assert report.rejected == []
    for user in (KANIGORO, WLINGI, OFFICIAL, ADMIN):
        await add_user(
            db, user.telegram_id, user.role,
            service_point=user.service_point, area=user.area_code, now=NOW,
        )  # fmt: skip
    return db


async def _slot(db, point_code: str, *, day: date | None = None) -> datetime:
    """The first free slot at the point: today's, or on `day`, or on the first open day after."""
    point = await get_service_point(db, point_code)
    if day is None:
        days = [d.day for d in await open_days(db, point, now=NOW) if d.day > TODAY]
        day = days[0]
    slots = await free_slots(db, point, day, now=NOW)
    return slots[0].start_at


async def _book(db, who="unrecorded", *, point="kanigoro", service="rekam", day=TODAY, chat=CHAT):
    start = await _slot(db, point, day=day)
    return await book(
        db, chat_id=chat, nik=PEOPLE[who].nik, service=service, point_code=point,
        start_at=start, now=NOW,
    )  # fmt: skip


async def _audit_rows(db, action: str | None = None) -> list[tuple[int | None, str, str]]:
    query = "SELECT actor_id, action, detail FROM audit_log WHERE action LIKE 'staffdesk:%'"
    async with db.execute(query + " ORDER BY id") as cursor:
        rows = [tuple(row) async for row in cursor]
    return [r for r in rows if action is None or r[1] == f"staffdesk:{action}"]


def _no_full_nik(rows) -> bool:
    return not any(person.nik in str(row) for row in rows for person in PEOPLE.values())


# --- confirm / reject ---


async def test_confirm_moves_pending_to_confirmed_and_audits(desk):
    booking = await _book(desk)
    assert booking.state == "pending"
    confirmed = await staffdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert confirmed.state == "confirmed"
    rows = await _audit_rows(desk, "confirmed")
    assert rows == [
        (KANIGORO.telegram_id, "staffdesk:confirmed",
         f"booking={booking.id} code={booking.code} point=kanigoro pending->confirmed"),
    ]  # fmt: skip


async def test_double_confirm_changes_nothing(desk):
    booking = await _book(desk)
    await staffdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await staffdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "state", "state": "confirmed"}
    assert len(await _audit_rows(desk, "confirmed")) == 1
    assert len(await _audit_rows(desk, "confirm:refused")) == 1


async def test_confirming_a_cancelled_booking_is_refused(desk):
    from bot.services.booking import cancel

    booking = await _book(desk)
    await cancel(desk, booking.id, chat_id=CHAT, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await staffdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert caught.value.context["state"] == "cancelled"


async def test_wlingi_staff_cannot_touch_a_kanigoro_booking(desk):
    booking = await _book(desk)
    for action in (
        staffdesk.confirm(desk, booking.id, staff=WLINGI, now=NOW),
        staffdesk.reject(desk, booking.id, staff=WLINGI, reason="x", now=NOW),
        staffdesk.check_in(desk, booking.code, staff=WLINGI, now=NOW),
        staffdesk.record_outcome(desk, booking.id, "no_show", staff=WLINGI, now=NOW),
    ):
        with pytest.raises(WrongServicePoint) as caught:
            await action
        assert caught.value.context == {}  # nothing about the booking is revealed
        assert caught.value.template == "staff/error_wrong_point.html"
    assert (await _reread(desk, booking)).state == "pending"
    refused = [r for r in await _audit_rows(desk) if r[1].endswith(":refused")]
    assert len(refused) == 4
    assert all(r[0] == WLINGI.telegram_id and "WrongServicePoint" in r[2] for r in refused)


@pytest.mark.parametrize("actor", [None, OFFICIAL, ADMIN], ids=["citizen", "official", "admin"])
async def test_only_staff_act_on_bookings(desk, actor):
    booking = await _book(desk)
    with pytest.raises(NotStaff):
        await staffdesk.confirm(desk, booking.id, staff=actor, now=NOW)
    with pytest.raises(NotAuthorized):
        await staffdesk.today_queue(desk, staff=actor, day=TODAY)
    with pytest.raises(NotStaff):
        await staffdesk.confirm_all_for_day(desk, staff=actor, day=TODAY, now=NOW)
    assert (await _reread(desk, booking)).state == "pending"


async def test_unknown_booking_id(desk):
    with pytest.raises(BookingNotFound) as caught:
        await staffdesk.confirm(desk, 999, staff=KANIGORO, now=NOW)
    assert caught.value.template == "staff/error_booking_not_found.html"


async def test_reject_stores_reason_and_offers_the_place_to_the_waitlist(desk):
    booking = await _book(desk, day=None)
    await join_waitlist(
        desk, chat_id=7000, nik=PEOPLE["deactivated"].nik, service="rekam",
        point_code="kanigoro", first_day=booking.day, last_day=booking.day, now=NOW,
    )  # fmt: skip
    rejected, offer = await staffdesk.reject(
        desk, booking.id, staff=KANIGORO, reason="  Berkas   tidak lengkap ", now=NOW
    )
    assert rejected.state == "rejected"
    assert rejected.reason == "Berkas tidak lengkap"
    assert offer is not None
    assert (offer.chat_id, offer.start_at) == (7000, booking.start_at)
    rows = await _audit_rows(desk, "rejected")
    assert rows[0][2].endswith("pending->rejected reason=Berkas tidak lengkap")


async def test_reject_without_waitlist_offers_nothing(desk):
    booking = await _book(desk)
    await staffdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    rejected, offer = await staffdesk.reject(desk, booking.id, staff=KANIGORO, reason="x", now=NOW)
    assert (rejected.state, offer) == ("rejected", None)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
async def test_reject_needs_a_reason_of_1_to_200_characters(desk, reason):
    booking = await _book(desk)
    with pytest.raises(InvalidReason) as caught:
        await staffdesk.reject(desk, booking.id, staff=KANIGORO, reason=reason, now=NOW)
    assert caught.value.context == {"max_length": 200}
    assert (await _reread(desk, booking)).state == "pending"


async def test_reject_twice_is_refused(desk):
    booking = await _book(desk)
    await staffdesk.reject(desk, booking.id, staff=KANIGORO, reason="x", now=NOW)
    with pytest.raises(NotChangeable):
        await staffdesk.reject(desk, booking.id, staff=KANIGORO, reason="y", now=NOW)
    assert (await _reread(desk, booking)).reason == "x"


async def test_reason_with_a_nik_is_masked_in_the_audit(desk):
    booking = await _book(desk)
    nik = PEOPLE["unrecorded"].nik
    await staffdesk.reject(desk, booking.id, staff=KANIGORO, reason=f"NIK {nik} salah", now=NOW)
    assert _no_full_nik(await _audit_rows(desk))


# --- confirm all, today's queue ---


async def test_confirm_all_for_day_confirms_only_my_points_pending(desk):
    day = wib_day(await _slot(desk, "kanigoro"))
    first = await _book(desk, "unrecorded", day=day)
    second = await _book(desk, "deactivated", day=day)
    cancelled = await _book(desk, "turning17", day=day)
    await staffdesk.reject(desk, cancelled.id, staff=KANIGORO, reason="x", now=NOW)
    elsewhere = await _book(desk, "child", point="tla-wlingi", day=day, chat=CHAT + 1)
    confirmed = await staffdesk.confirm_all_for_day(desk, staff=KANIGORO, day=day, now=NOW)
    assert [b.id for b in confirmed] == [first.id, second.id]
    assert {b.state for b in confirmed} == {"confirmed"}
    assert (await _reread(desk, elsewhere)).state == "pending"
    assert len(await _audit_rows(desk, "confirmed")) == 2


async def test_today_queue_in_queue_order_with_names_and_states(desk):
    first = await _book(desk, "unrecorded")
    second = await _book(desk, "deactivated")
    await staffdesk.confirm(desk, second.id, staff=KANIGORO, now=NOW)
    await _book(desk, "child", point="tla-wlingi", chat=CHAT + 1)
    queue = await staffdesk.today_queue(desk, staff=KANIGORO, day=TODAY)
    assert [(e.booking.id, e.booking.state, e.name) for e in queue] == [
        (first.id, "pending", "Rudi Lestari"),
        (second.id, "confirmed", "Ani Lestari"),
    ]
    assert [e.booking.queue_number for e in queue] == [1, 2]


# --- check-in ---


@pytest.mark.parametrize("typed", ["{code}", " {lower} ", "DUKCAPIL:{code}", "{a}-{b}", "{a} {b}"])
async def test_check_in_accepts_typed_and_scanned_codes(desk, typed):
    booking = await _book(desk)
    code = booking.code
    text = typed.format(code=code, lower=code.lower(), a=code[:3], b=code[3:])
    checked = await staffdesk.check_in(desk, text, staff=KANIGORO, now=NOW)
    assert checked.state == "checked_in"  # a pending booking may be checked in


async def test_check_in_of_a_confirmed_booking_then_twice(desk):
    booking = await _book(desk)
    await staffdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert (await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)).state == (
        "checked_in"
    )
    with pytest.raises(NotChangeable) as caught:
        await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "state", "state": "checked_in"}


@pytest.mark.parametrize("text", ["", "ABC", "ABCDEFG", "ABC10O", "ÄBCDEF", "<b>xx</b>"])
async def test_check_in_of_impossible_codes(desk, text):
    with pytest.raises(StaffBookingNotFound):
        await staffdesk.check_in(desk, text, staff=KANIGORO, now=NOW)


async def test_check_in_of_an_unknown_code(desk):
    with pytest.raises(StaffBookingNotFound) as caught:
        await staffdesk.check_in(desk, "ZZZZZZ", staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "not_found", "code": "ZZZZZZ"}


async def test_check_in_of_a_cancelled_booking(desk):
    from bot.services.booking import cancel

    booking = await _book(desk)
    await cancel(desk, booking.id, chat_id=CHAT, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "state", "state": "cancelled"}
    assert (await _reread(desk, booking)).state == "cancelled"


async def test_check_in_of_tomorrows_booking_today(desk):
    booking = await _book(desk, day=None)
    with pytest.raises(NotChangeable) as caught:
        await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "other_day", "state": "pending", "day": booking.day}
    assert caught.value.template == "staff/error_not_changeable.html"
    assert (await _reread(desk, booking)).state == "pending"


async def test_check_in_uses_the_wib_day(desk):
    booking = await _book(desk, day=None)
    # 23:30 WIB the evening before is still the day before; 00:30 WIB is the visit's day.
    evening = datetime.combine(booking.day, datetime.min.time(), tzinfo=NOW.tzinfo)
    before = evening - timedelta(hours=7, minutes=30)  # 23:30 WIB the day before
    with pytest.raises(NotChangeable):
        await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=before)
    after = evening - timedelta(hours=6, minutes=30)  # 00:30 WIB on the day (17:30 UTC before)
    assert (await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=after)).state == (
        "checked_in"
    )


# --- outcomes ---


async def test_recorded_reactivates_a_deactivated_nik_and_sets_the_recording_date(desk):
    before = await get_resident(desk, PEOPLE["deactivated"].nik)
    assert (before.status_nik, before.tanggal_rekam) == ("NONAKTIF", None)
    booking = await _book(desk, "deactivated")
    await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    done = await staffdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    assert done.state == "recorded"
    after = await get_resident(desk, PEOPLE["deactivated"].nik)
    assert (after.status_nik, after.tanggal_rekam) == ("AKTIF", TODAY)


async def test_outcome_must_fit_the_service(desk):
    booking = await _book(desk, "recorded", service="rusak")
    await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable):  # a card replacement is not a recording
        await staffdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    done = await staffdesk.record_outcome(desk, booking.id, "handed_over", staff=KANIGORO, now=NOW)
    assert done.state == "handed_over"
    resident = await get_resident(desk, PEOPLE["recorded"].nik)
    assert resident.tanggal_rekam == date(2013, 3, 1)


async def test_recorded_needs_a_check_in_first(desk):
    booking = await _book(desk, "deactivated")
    with pytest.raises(NotChangeable):
        await staffdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    resident = await get_resident(desk, PEOPLE["deactivated"].nik)
    assert resident.status_nik == "NONAKTIF"


async def test_handed_over_after_check_in_and_not_twice(desk):
    booking = await _book(desk, "recorded", service="ambil")
    await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    done = await staffdesk.record_outcome(desk, booking.id, "handed_over", staff=KANIGORO, now=NOW)
    assert done.state == "handed_over"
    with pytest.raises(NotChangeable):
        await staffdesk.record_outcome(desk, booking.id, "handed_over", staff=KANIGORO, now=NOW)


async def test_no_show_today_but_not_for_a_future_day(desk):
    today = await _book(desk, "unrecorded")
    later = await _book(desk, "deactivated", day=None)
    done = await staffdesk.record_outcome(desk, today.id, "no_show", staff=KANIGORO, now=NOW)
    assert done.state == "no_show"
    with pytest.raises(NotChangeable) as caught:
        await staffdesk.record_outcome(desk, later.id, "no_show", staff=KANIGORO, now=NOW)
    assert caught.value.context["kind"] == "other_day"


async def test_no_show_after_check_in_is_refused(desk):
    booking = await _book(desk)
    await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable):
        await staffdesk.record_outcome(desk, booking.id, "no_show", staff=KANIGORO, now=NOW)


@pytest.mark.parametrize("outcome", ["cancelled", "checked_in", "confirmed", "", "x" * 500])
async def test_unknown_outcomes_are_refused(desk, outcome):
    booking = await _book(desk)
    await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await staffdesk.record_outcome(desk, booking.id, outcome, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "outcome", "state": "checked_in"}
    assert (await _reread(desk, booking)).state == "checked_in"
    assert "outcome=unknown" in (await _audit_rows(desk, "outcome:refused"))[0][2]


# --- the no-show sweep ---


async def test_sweep_turns_unattended_bookings_into_no_shows(desk):
    pending = await _book(desk, "unrecorded")
    confirmed = await _book(desk, "deactivated")
    await staffdesk.confirm(desk, confirmed.id, staff=KANIGORO, now=NOW)
    served = await _book(desk, "recorded", service="ambil")
    await staffdesk.check_in(desk, served.code, staff=KANIGORO, now=NOW)
    later = await _book(desk, "turning17", day=None, chat=CHAT + 1)
    evening = NOW + timedelta(hours=10)  # 20:00 WIB
    swept = await staffdesk.sweep_no_shows(desk, day=TODAY, now=evening)
    assert [b.id for b in swept] == [pending.id, confirmed.id]
    assert {b.state for b in swept} == {"no_show"}
    assert (await _reread(desk, served)).state == "checked_in"
    assert (await _reread(desk, later)).state == "pending"
    rows = await _audit_rows(desk, "no_show")
    assert [r[0] for r in rows] == [None, None]  # the system acted
    assert await staffdesk.sweep_no_shows(desk, day=TODAY, now=evening) == []


# --- admin: closures ---


async def test_closure_cancels_bookings_and_blocks_new_ones(desk):
    point = await get_service_point(desk, "kanigoro")
    day = wib_day(await _slot(desk, "kanigoro"))
    first = await _book(desk, "unrecorded", day=day)
    second = await _book(desk, "deactivated", day=day)
    await staffdesk.confirm(desk, second.id, staff=KANIGORO, now=NOW)
    elsewhere = await _book(desk, "child", point="tla-wlingi", day=day, chat=CHAT + 1)
    cancelled = await staffdesk.close_point(
        desk, admin=ADMIN, point_code="kanigoro", first_day=day, last_day=day,
        reason="Gangguan jaringan", now=NOW,
    )  # fmt: skip
    assert [(b.id, b.state, b.reason) for b in cancelled] == [
        (first.id, "cancelled", "Gangguan jaringan"),
        (second.id, "cancelled", "Gangguan jaringan"),
    ]
    assert (await _reread(desk, elsewhere)).state == "pending"
    assert day not in [d.day for d in await open_days(desk, point, now=NOW)]
    assert await free_slots(desk, point, day, now=NOW) == []
    rows = await _audit_rows(desk)
    assert [r[1] for r in rows if r[0] == ADMIN.telegram_id][-3:] == [
        "staffdesk:close_point",
        "staffdesk:cancelled",
        "staffdesk:cancelled",
    ]


async def test_closing_every_point(desk):
    day = wib_day(await _slot(desk, "kanigoro"))
    here = await _book(desk, "unrecorded", day=day)
    there = await _book(desk, "child", point="tla-wlingi", day=day, chat=CHAT + 1)
    cancelled = await staffdesk.close_point(
        desk, admin=ADMIN, point_code=None, first_day=TODAY, last_day=day + timedelta(days=3),
        reason="Cuti bersama", now=NOW,
    )  # fmt: skip
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
    booking = await _book(desk)
    with pytest.raises(InvalidClosure) as caught:
        await staffdesk.close_point(
            desk, admin=ADMIN, point_code="kanigoro", first_day=first, last_day=last,
            reason="x", now=NOW,
        )  # fmt: skip
    assert caught.value.context["kind"] == kind
    assert (await _reread(desk, booking)).state == "pending"
    async with desk.execute("SELECT count(*) FROM closures") as cursor:
        assert (await cursor.fetchone())[0] == 0


async def test_closure_of_an_unknown_point_or_without_reason(desk):
    with pytest.raises(UnknownServicePoint):
        await staffdesk.close_point(
            desk, admin=ADMIN, point_code="kec-atlantis", first_day=TODAY, last_day=TODAY,
            reason="x", now=NOW,
        )  # fmt: skip
    with pytest.raises(InvalidReason):
        await staffdesk.close_point(
            desk, admin=ADMIN, point_code="kanigoro", first_day=TODAY, last_day=TODAY,
            reason=" ", now=NOW,
        )  # fmt: skip


@pytest.mark.parametrize("actor", [None, KANIGORO, OFFICIAL], ids=["citizen", "staff", "official"])
async def test_only_admins_manage_points(desk, actor):
    with pytest.raises(NotAdmin):
        await staffdesk.close_point(
            desk, admin=actor, point_code="kanigoro", first_day=TODAY, last_day=TODAY,
            reason="x", now=NOW,
        )  # fmt: skip
    with pytest.raises(NotAdmin):
        await staffdesk.set_auto_confirm(desk, admin=actor, point_code="kanigoro", on=True, now=NOW)
    with pytest.raises(NotAdmin):
        await staffdesk.set_staff_chat(
            desk, admin=actor, point_code="kanigoro", chat_id=-1, now=NOW
        )
    assert (await _book(desk)).state == "pending"


# --- admin: point settings, staff recipients ---


async def test_auto_confirm_makes_new_bookings_confirmed(desk):
    await staffdesk.set_auto_confirm(desk, admin=ADMIN, point_code="kanigoro", on=True, now=NOW)
    assert (await _book(desk, "unrecorded")).state == "confirmed"
    assert (await _book(desk, "child", point="tla-wlingi", chat=CHAT + 1)).state == "pending"
    await staffdesk.set_auto_confirm(desk, admin=ADMIN, point_code="kanigoro", on=False, now=NOW)
    assert (await _book(desk, "deactivated")).state == "pending"
    assert [r[2] for r in await _audit_rows(desk, "auto_confirm")] == [
        "point=kanigoro on=True",
        "point=kanigoro on=False",
    ]


async def test_settings_of_an_unknown_point(desk):
    with pytest.raises(UnknownServicePoint) as caught:
        await staffdesk.set_auto_confirm(desk, admin=ADMIN, point_code="nowhere", on=True, now=NOW)
    assert caught.value.context == {"code": "nowhere"}
    with pytest.raises(UnknownServicePoint):
        await staffdesk.set_staff_chat(desk, admin=ADMIN, point_code="nowhere", chat_id=1, now=NOW)


async def test_staff_recipients_group_chat_or_each_staff_member(desk):
    await add_user(desk, 105, "staff", service_point="kanigoro", area=None, now=NOW)
    assert await staffdesk.staff_recipients(desk, "kanigoro") == [101, 105]
    assert await staffdesk.staff_recipients(desk, "kec-wonodadi") == []
    await staffdesk.set_staff_chat(
        desk, admin=ADMIN, point_code="kanigoro", chat_id=-100123, now=NOW
    )
    assert await staffdesk.staff_recipients(desk, "kanigoro") == [-100123]
    assert await staffdesk.staff_recipients(desk, "tla-wlingi") == [102]
    await staffdesk.set_staff_chat(desk, admin=ADMIN, point_code="kanigoro", chat_id=None, now=NOW)
    assert await staffdesk.staff_recipients(desk, "kanigoro") == [101, 105]
    assert len(await _audit_rows(desk, "staff_chat")) == 2


async def test_no_audit_row_holds_a_full_nik(desk):
    booking = await _book(desk, "deactivated")
    await staffdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    await staffdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    other = await _book(desk, "unrecorded")
    await staffdesk.reject(desk, other.id, staff=KANIGORO, reason="salah", now=NOW)
    rows = await _audit_rows(desk)
    assert len(rows) == 3
    assert _no_full_nik(rows)


async def _reread(db, booking):
    from bot.storage.bookings import get_booking

    return await get_booking(db, booking.id)


async def test_a_citizen_checking_in_gibberish_is_refused_as_not_staff(desk):
    with pytest.raises(NotStaff):
        await staffdesk.check_in(desk, "3505105512090003", staff=None, now=NOW)
    rows = await _audit_rows(desk, "check_in:refused")
    assert rows == [(None, "staffdesk:check_in:refused", "code=invalid refused=NotStaff")]


async def _queued_reminder(db, booking):
    from bot.services import outbox
    from bot.storage import outbox as store

    key = f"booking:{booking.id}:eve:{booking.start_at.isoformat()}"
    await outbox.enqueue(db, key=key, chat_id=booking.chat_id, kind="booking", text="Besok",
                         now=NOW)  # fmt: skip
    return lambda: store.get_message_by_key(db, key)


async def test_rejecting_withdraws_the_bookings_queued_reminders(desk):
    booking = await _book(desk, day=None)
    reminder = await _queued_reminder(desk, booking)
    await staffdesk.reject(desk, booking.id, staff=KANIGORO, reason="Berkas kurang", now=NOW)
    assert (await reminder()).state == "withdrawn"


async def test_a_closure_withdraws_the_cancelled_bookings_reminders(desk):
    booking = await _book(desk, day=None)
    reminder = await _queued_reminder(desk, booking)
    await staffdesk.close_point(
        desk, admin=ADMIN, point_code="kanigoro", first_day=booking.day,
        last_day=booking.day, reason="Gangguan jaringan", now=NOW,
    )  # fmt: skip
    assert (await reminder()).state == "withdrawn"


async def test_confirming_keeps_the_bookings_reminders(desk):
    booking = await _book(desk, day=None)
    reminder = await _queued_reminder(desk, booking)
    await staffdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert (await reminder()).state == "queued"
