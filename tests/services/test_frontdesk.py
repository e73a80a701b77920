"""The staff at the counter: every transition, every refusal, every audit row."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.errors import (
    BookingNotFound,
    InvalidReason,
    NotAuthorized,
    NotChangeable,
    NotStaff,
    StaffBookingNotFound,
    WrongServicePoint,
)
from bot.services import frontdesk
from bot.services.booking import cancel
from bot.services.schedule import wib_day
from bot.services.waitlist import join_waitlist
from bot.storage.residents import get_resident
from tests.conftest import NOW, PEOPLE
from tests.desk import (
    ADMIN,
    CHAT,
    KANIGORO,
    OFFICIAL,
    TODAY,
    WLINGI,
    audit_rows,
    book_at,
    db_of_each_engine,
    desk,
    no_full_nik,
    queued_reminder,
    reread,
    slot,
)

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)


# --- confirm / reject ---


async def test_confirm_moves_pending_to_confirmed_and_audits(desk):
    booking = await book_at(desk)
    assert booking.state == "pending"
    confirmed = await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert confirmed.state == "confirmed"
    rows = await audit_rows(desk, "confirmed")
    assert rows == [
        (
            KANIGORO.telegram_id,
            "staffdesk:confirmed",
            f"booking={booking.id} code={booking.code} point=kanigoro pending->confirmed",
        ),
    ]


async def test_double_confirm_changes_nothing(desk):
    booking = await book_at(desk)
    await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "state", "state": "confirmed"}
    assert len(await audit_rows(desk, "confirmed")) == 1
    assert len(await audit_rows(desk, "confirm:refused")) == 1


async def test_confirming_a_cancelled_booking_is_refused(desk):
    booking = await book_at(desk)
    await cancel(desk, booking.id, chat_id=CHAT, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert caught.value.context["state"] == "cancelled"


async def test_wlingi_staff_cannot_touch_a_kanigoro_booking(desk):
    booking = await book_at(desk)
    for action in (
        frontdesk.confirm(desk, booking.id, staff=WLINGI, now=NOW),
        frontdesk.reject(desk, booking.id, staff=WLINGI, reason="x", now=NOW),
        frontdesk.check_in(desk, booking.code, staff=WLINGI, now=NOW),
        frontdesk.record_outcome(desk, booking.id, "no_show", staff=WLINGI, now=NOW),
    ):
        with pytest.raises(WrongServicePoint) as caught:
            await action
        assert caught.value.context == {}  # nothing about the booking is revealed
        assert caught.value.template == "staff/error_wrong_point.html"
    assert (await reread(desk, booking)).state == "pending"
    refused = [r for r in await audit_rows(desk) if r[1].endswith(":refused")]
    assert len(refused) == 4
    assert all(r[0] == WLINGI.telegram_id and "WrongServicePoint" in r[2] for r in refused)


@pytest.mark.parametrize("actor", [None, OFFICIAL, ADMIN], ids=["citizen", "official", "admin"])
async def test_only_staff_act_on_bookings(desk, actor):
    booking = await book_at(desk)
    with pytest.raises(NotStaff):
        await frontdesk.confirm(desk, booking.id, staff=actor, now=NOW)
    with pytest.raises(NotAuthorized):
        await frontdesk.today_queue(desk, staff=actor, day=TODAY)
    with pytest.raises(NotStaff):
        await frontdesk.confirm_all_for_day(desk, staff=actor, day=TODAY, now=NOW)
    assert (await reread(desk, booking)).state == "pending"


async def test_unknown_booking_id(desk):
    with pytest.raises(BookingNotFound) as caught:
        await frontdesk.confirm(desk, 999, staff=KANIGORO, now=NOW)
    assert caught.value.template == "staff/error_booking_not_found.html"


async def test_reject_stores_reason_and_offers_the_place_to_the_waitlist(desk):
    booking = await book_at(desk, day=None)
    await join_waitlist(
        desk,
        chat_id=7000,
        nik=PEOPLE["deactivated"].nik,
        service="rekam",
        point_code="kanigoro",
        first_day=booking.day,
        last_day=booking.day,
        now=NOW,
    )
    rejected, offer = await frontdesk.reject(
        desk, booking.id, staff=KANIGORO, reason="  Berkas   tidak lengkap ", now=NOW
    )
    assert rejected.state == "rejected"
    assert rejected.reason == "Berkas tidak lengkap"
    assert offer is not None
    assert (offer.chat_id, offer.start_at) == (7000, booking.start_at)
    rows = await audit_rows(desk, "rejected")
    assert rows[0][2].endswith("pending->rejected reason=Berkas tidak lengkap")


async def test_reject_without_waitlist_offers_nothing(desk):
    booking = await book_at(desk)
    await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    rejected, offer = await frontdesk.reject(desk, booking.id, staff=KANIGORO, reason="x", now=NOW)
    assert (rejected.state, offer) == ("rejected", None)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
async def test_reject_needs_a_reason_of_1_to_200_characters(desk, reason):
    booking = await book_at(desk)
    with pytest.raises(InvalidReason) as caught:
        await frontdesk.reject(desk, booking.id, staff=KANIGORO, reason=reason, now=NOW)
    assert caught.value.context == {"max_length": 200}
    assert (await reread(desk, booking)).state == "pending"


async def test_reject_twice_is_refused(desk):
    booking = await book_at(desk)
    await frontdesk.reject(desk, booking.id, staff=KANIGORO, reason="x", now=NOW)
    with pytest.raises(NotChangeable):
        await frontdesk.reject(desk, booking.id, staff=KANIGORO, reason="y", now=NOW)
    assert (await reread(desk, booking)).reason == "x"


async def test_reason_with_a_nik_is_masked_in_the_audit(desk):
    booking = await book_at(desk)
    nik = PEOPLE["unrecorded"].nik
    await frontdesk.reject(desk, booking.id, staff=KANIGORO, reason=f"NIK {nik} salah", now=NOW)
    assert no_full_nik(await audit_rows(desk))


# --- confirm all, today's queue ---


async def test_confirm_all_for_day_confirms_only_my_points_pending(desk):
    day = wib_day(await slot(desk, "kanigoro"))
    first = await book_at(desk, "unrecorded", day=day)
    second = await book_at(desk, "deactivated", day=day)
    cancelled = await book_at(desk, "turning17", day=day)
    await frontdesk.reject(desk, cancelled.id, staff=KANIGORO, reason="x", now=NOW)
    elsewhere = await book_at(desk, "turning17", point="tla-wlingi", day=day, chat=CHAT + 1)
    confirmed = await frontdesk.confirm_all_for_day(desk, staff=KANIGORO, day=day, now=NOW)
    assert [b.id for b in confirmed] == [first.id, second.id]
    assert {b.state for b in confirmed} == {"confirmed"}
    assert (await reread(desk, elsewhere)).state == "pending"
    assert len(await audit_rows(desk, "confirmed")) == 2


async def test_today_queue_in_queue_order_with_names_and_states(desk):
    first = await book_at(desk, "unrecorded")
    second = await book_at(desk, "deactivated")
    await frontdesk.confirm(desk, second.id, staff=KANIGORO, now=NOW)
    await book_at(desk, "turning17", point="tla-wlingi", chat=CHAT + 1)
    queue = await frontdesk.today_queue(desk, staff=KANIGORO, day=TODAY)
    assert [(e.booking.id, e.booking.state, e.name) for e in queue] == [
        (first.id, "pending", "Rudi Lestari"),
        (second.id, "confirmed", "Ani Lestari"),
    ]
    assert [e.booking.queue_number for e in queue] == [1, 2]


# --- check-in ---


@pytest.mark.parametrize("typed", ["{code}", " {lower} ", "DUKCAPIL:{code}", "{a}-{b}", "{a} {b}"])
async def test_check_in_accepts_typed_and_scanned_codes(desk, typed):
    booking = await book_at(desk)
    code = booking.code
    text = typed.format(code=code, lower=code.lower(), a=code[:3], b=code[3:])
    checked = await frontdesk.check_in(desk, text, staff=KANIGORO, now=NOW)
    assert checked.state == "checked_in"  # a pending booking may be checked in


async def test_check_in_of_a_confirmed_booking_then_twice(desk):
    booking = await book_at(desk)
    await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert (await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)).state == (
        "checked_in"
    )
    with pytest.raises(NotChangeable) as caught:
        await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "state", "state": "checked_in"}


@pytest.mark.parametrize("text", ["", "ABC", "ABCDEFG", "ABC10O", "ÄBCDEF", "<b>xx</b>"])
async def test_check_in_of_impossible_codes(desk, text):
    with pytest.raises(StaffBookingNotFound):
        await frontdesk.check_in(desk, text, staff=KANIGORO, now=NOW)


async def test_check_in_of_an_unknown_code(desk):
    with pytest.raises(StaffBookingNotFound) as caught:
        await frontdesk.check_in(desk, "ZZZZZZ", staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "not_found", "code": "ZZZZZZ"}


async def test_check_in_of_a_cancelled_booking(desk):
    booking = await book_at(desk)
    await cancel(desk, booking.id, chat_id=CHAT, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "state", "state": "cancelled"}
    assert (await reread(desk, booking)).state == "cancelled"


async def test_check_in_of_tomorrows_booking_today(desk):
    booking = await book_at(desk, day=None)
    with pytest.raises(NotChangeable) as caught:
        await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "other_day", "state": "pending", "day": booking.day}
    assert caught.value.template == "staff/error_not_changeable.html"
    assert (await reread(desk, booking)).state == "pending"


async def test_check_in_uses_the_wib_day(desk):
    booking = await book_at(desk, day=None)
    # 23:30 WIB the evening before is still the day before; 00:30 WIB is the visit's day.
    evening = datetime.combine(booking.day, datetime.min.time(), tzinfo=NOW.tzinfo)
    before = evening - timedelta(hours=7, minutes=30)  # 23:30 WIB the day before
    with pytest.raises(NotChangeable):
        await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=before)
    after = evening - timedelta(hours=6, minutes=30)  # 00:30 WIB on the day (17:30 UTC before)
    assert (await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=after)).state == (
        "checked_in"
    )


# --- outcomes ---


async def test_recorded_reactivates_a_deactivated_nik_and_sets_the_recording_date(desk):
    before = await get_resident(desk, PEOPLE["deactivated"].nik)
    assert (before.status_nik, before.tanggal_rekam) == ("NONAKTIF", None)
    booking = await book_at(desk, "deactivated")
    await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    done = await frontdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    assert done.state == "recorded"
    after = await get_resident(desk, PEOPLE["deactivated"].nik)
    assert (after.status_nik, after.tanggal_rekam) == ("AKTIF", TODAY)


async def test_outcome_must_fit_the_service(desk):
    booking = await book_at(desk, "recorded", service="rusak")
    await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable):  # a card replacement is not a recording
        await frontdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    done = await frontdesk.record_outcome(desk, booking.id, "handed_over", staff=KANIGORO, now=NOW)
    assert done.state == "handed_over"
    resident = await get_resident(desk, PEOPLE["recorded"].nik)
    assert resident.tanggal_rekam == date(2013, 3, 1)


async def test_recorded_needs_a_check_in_first(desk):
    booking = await book_at(desk, "deactivated")
    with pytest.raises(NotChangeable):
        await frontdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    resident = await get_resident(desk, PEOPLE["deactivated"].nik)
    assert resident.status_nik == "NONAKTIF"


async def test_handed_over_after_check_in_and_not_twice(desk):
    booking = await book_at(desk, "recorded", service="ambil")
    await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    done = await frontdesk.record_outcome(desk, booking.id, "handed_over", staff=KANIGORO, now=NOW)
    assert done.state == "handed_over"
    with pytest.raises(NotChangeable):
        await frontdesk.record_outcome(desk, booking.id, "handed_over", staff=KANIGORO, now=NOW)


async def test_no_show_today_but_not_for_a_future_day(desk):
    today = await book_at(desk, "unrecorded")
    later = await book_at(desk, "deactivated", day=None)
    done = await frontdesk.record_outcome(desk, today.id, "no_show", staff=KANIGORO, now=NOW)
    assert done.state == "no_show"
    with pytest.raises(NotChangeable) as caught:
        await frontdesk.record_outcome(desk, later.id, "no_show", staff=KANIGORO, now=NOW)
    assert caught.value.context["kind"] == "other_day"


async def test_no_show_after_check_in_is_refused(desk):
    booking = await book_at(desk)
    await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable):
        await frontdesk.record_outcome(desk, booking.id, "no_show", staff=KANIGORO, now=NOW)


@pytest.mark.parametrize("outcome", ["cancelled", "checked_in", "confirmed", "", "x" * 500])
async def test_unknown_outcomes_are_refused(desk, outcome):
    booking = await book_at(desk)
    await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    with pytest.raises(NotChangeable) as caught:
        await frontdesk.record_outcome(desk, booking.id, outcome, staff=KANIGORO, now=NOW)
    assert caught.value.context == {"kind": "outcome", "state": "checked_in"}
    assert (await reread(desk, booking)).state == "checked_in"
    assert "outcome=unknown" in (await audit_rows(desk, "outcome:refused"))[0][2]


async def test_no_audit_row_holds_a_full_nik(desk):
    booking = await book_at(desk, "deactivated")
    await frontdesk.check_in(desk, booking.code, staff=KANIGORO, now=NOW)
    await frontdesk.record_outcome(desk, booking.id, "recorded", staff=KANIGORO, now=NOW)
    other = await book_at(desk, "unrecorded")
    await frontdesk.reject(desk, other.id, staff=KANIGORO, reason="salah", now=NOW)
    rows = await audit_rows(desk)
    assert len(rows) == 3
    assert no_full_nik(rows)


async def test_a_citizen_checking_in_gibberish_is_refused_as_not_staff(desk):
    with pytest.raises(NotStaff):
        await frontdesk.check_in(desk, "3505105512090003", staff=None, now=NOW)
    rows = await audit_rows(desk, "check_in:refused")
    assert rows == [(None, "staffdesk:check_in:refused", "code=invalid refused=NotStaff")]


async def test_rejecting_withdraws_the_bookings_queued_reminders(desk):
    booking = await book_at(desk, day=None)
    reminder = await queued_reminder(desk, booking)
    await frontdesk.reject(desk, booking.id, staff=KANIGORO, reason="Berkas kurang", now=NOW)
    assert (await reminder()).state == "withdrawn"


async def test_confirming_keeps_the_bookings_reminders(desk):
    booking = await book_at(desk, day=None)
    reminder = await queued_reminder(desk, booking)
    await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)
    assert (await reminder()).state == "queued"
