"""Messages about a booking: to the citizen (confirmed, changed, reminded, asked in the morning)
and to the staff of its point (a new booking to confirm)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import HOLDING_STATES, Booking, Resident, ServicePoint
from bot.rendering import Renderer
from bot.services.booking import Listed
from bot.services.staff_notices import StaffNotice
from bot.views import Message, keyboard

REBOOK = "menu:antre"  # the booking flow from its start


def confirmed(
    renderer: Renderer, locale: str, booking: Booking, point: ServicePoint, *, moved: bool = False
) -> Message:
    """The booking is made (or moved): code, queue number, time, place, what to bring."""
    text = renderer.render(
        locale, "citizen/booking_confirmed.html", b=booking, point=point, moved=moved
    )
    return Message(text)


def listing(
    renderer: Renderer, locale: str, listed: Sequence[Listed], points: dict[str, ServicePoint]
) -> Message:
    """/jadwal: each booking numbered, whose it is; one that still holds its place gets Move,
    Cancel and its QR code again, one checked in its QR code."""
    text = renderer.render(locale, "citizen/bookings.html", listed=listed, places=points)
    rows = [_listing_row(renderer, locale, item) for item in listed if item.booking.active]
    return Message(text, InlineKeyboardMarkup(rows) if rows else None)


def _listing_row(renderer: Renderer, locale: str, item: Listed) -> list[InlineKeyboardButton]:
    number, booking_id = item.number, item.booking.id
    keys = ("booking_move", "booking_drop") if item.booking.state in HOLDING_STATES else ()
    actions = {"booking_move": "move", "booking_drop": "cancel", "booking_qr": "qr"}
    return [
        InlineKeyboardButton(
            renderer.label(locale, key, number=number),
            callback_data=f"jd:{actions[key]}:{booking_id}",
        )
        for key in (*keys, "booking_qr")
    ]


def staff_pending(
    renderer: Renderer, locale: str, booking: Booking, resident: Resident | None
) -> Message:
    """A new booking for the point's staff, with Confirm / Reject."""
    age = resident.age_on(booking.day) if resident else None
    text = renderer.render(
        locale, "staff/booking_pending.html", b=booking, resident=resident, age=age
    )
    shown = f"{booking.id}:{booking.version}"  # a press on an outdated notice is refused
    rows = [[("staff_confirm", f"st:ok:{shown}"), ("staff_reject", f"st:no:{shown}")]]
    return Message(text, keyboard(renderer, locale, rows))


def staff_outdated(renderer: Renderer, locale: str, booking: Booking, shown: StaffNotice) -> str:
    """What replaces a staff notice once the booking changed: what became of it (moved: where
    to), above the notice as it was, struck through; no buttons."""
    return renderer.render(
        locale,
        "staff/notice_outdated.html",
        b=booking,
        moved=booking.start_at != shown.start_at,
        shown=shown.text,  # our own rendered HTML, put in as it is (|safe)
    )


def staff_outdated_alert(renderer: Renderer, locale: str, booking: Booking) -> str:
    """The pop-up for a button pressed on an outdated notice: the booking as it is now."""
    return renderer.render(locale, "staff/notice_outdated_alert.txt", b=booking)


def changed(
    renderer: Renderer,
    locale: str,
    booking: Booking,
    point: ServicePoint | None,
    *,
    person: str,
    template: str = "citizen/booking_state.html",
    **values: object,
) -> Message:
    """A change to the citizen's booking (confirmed, rejected, recorded, a no-show, cancelled by
    a closure); a booking that ended without a visit gets a button to book again."""
    text = renderer.render(locale, template, b=booking, point=point, person=person, **values)
    if booking.state not in ("rejected", "cancelled"):
        return Message(text)
    return Message(text, keyboard(renderer, locale, [[("booking_rebook", REBOOK)]]))


def eve_reminder(
    renderer: Renderer, locale: str, booking: Booking, point: ServicePoint | None, *, person: str
) -> Message:
    """The evening before: time, place, queue number, code, what to bring."""
    text = renderer.render(
        locale, "citizen/reminder_booking.html", b=booking, point=point, person=person
    )
    return Message(text)


def still_coming(
    renderer: Renderer, locale: str, booking: Booking, point: ServicePoint | None
) -> Message:
    """The morning question: still coming? Yes / release my place."""
    text = renderer.render(locale, "citizen/booking_still_coming.html", b=booking, point=point)
    rows = [
        [
            ("still_coming_yes", f"bk:coming:{booking.id}"),
            ("still_coming_release", f"bk:release:{booking.id}"),
        ]
    ]
    return Message(text, keyboard(renderer, locale, rows))


def escalated(
    renderer: Renderer, locale: str, booking: Booking, point: ServicePoint | None
) -> Message:
    """To an admin: a booking still unconfirmed the day before the visit, with Confirm (code,
    service, point and time; nothing about the person)."""
    text = renderer.render(locale, "admin/booking_unconfirmed.html", b=booking, point=point)
    return Message(
        text,
        keyboard(renderer, locale, [[("staff_confirm", f"esc:ok:{booking.id}:{booking.version}")]]),
    )
