"""Messages the bot sends on its own initiative about bookings and tickets.

A reply to the person who pressed or typed goes straight back; a notice to anyone else (the staff
of a point, the citizen whose booking staff changed, the next person on the waitlist) is written
to the outbox first, so a crash or a Telegram outage loses none, and the sender delivers it.
What each message says and which buttons it has is built in bot/views.
"""

from __future__ import annotations

import io
import secrets

import segno
from telegram import Update

from bot.context import Context, chat_locale, deps
from bot.domain import Booking, Offer, Ticket
from bot.errors import DomainError, OutdatedNotice
from bot.handlers.common import HTML, chat_id_of, refuse, reply, row_id
from bot.services import outbox, staff_notices
from bot.services.directory import get_resident, get_service_point
from bot.services.staff_chats import staff_recipients
from bot.services.staff_notices import StaffNotice
from bot.views import Message, bookings, tickets, waitlist


def qr_png(code: str) -> bytes:
    """A QR code of the booking code, for the counter's scanner."""
    buffer = io.BytesIO()
    segno.make(code, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


async def announce_booking(
    context: Context, booking: Booking, *, moved: bool = False, replacing: int | None = None
) -> None:
    """Tell the citizen (code, queue number, time, place, what to bring, QR, pin); tell staff.
    `replacing`: the message whose button made the booking, edited into the confirmation."""
    d, chat_id = deps(context), booking.chat_id
    locale = await chat_locale(context, chat_id)
    point = await get_service_point(d.db, booking.service_point)
    assert point is not None
    text, _ = bookings.confirmed(d.renderer, locale, booking, point, moved=moved)
    if replacing is None:
        await context.bot.send_message(chat_id, text, parse_mode=HTML)
    else:
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=replacing, parse_mode=HTML
        )
    await send_qr(context, booking, locale)
    if point.pinned:  # a drive given no coordinates has no pin (its address is in the text)
        address = d.renderer.render(locale, "citizen/venue_address.txt", point=point)
        await context.bot.send_venue(chat_id, point.latitude, point.longitude, point.name, address)
    await update_staff_notices(context, booking)  # a moved booking's notices say where it went
    if booking.state == "pending":
        await tell_staff_pending(context, booking)


async def send_qr(context: Context, booking: Booking, locale: str) -> None:
    """The booking's QR code, captioned with its code and queue number."""
    caption = deps(context).renderer.render(locale, "citizen/booking_qr_caption.txt", b=booking)
    await context.bot.send_photo(booking.chat_id, qr_png(booking.code), caption=caption)


async def tell_staff_pending(context: Context, booking: Booking) -> None:
    """Post a new pending booking to the point's staff with Confirm / Reject buttons."""
    d = deps(context)
    resident = await get_resident(d.db, booking.nik)
    messages = []
    for chat_id in await staff_recipients(d.db, booking.service_point):
        locale = await chat_locale(context, chat_id)
        message = bookings.staff_pending(d.renderer, locale, booking, resident)
        messages.append((chat_id, message.text, message.keyboard_json()))
    if await staff_notices.plan_notices(d.db, booking, messages, now=d.now()):
        _wake_sender(context)


async def update_staff_notices(context: Context, booking: Booking) -> None:
    """The booking changed: its staff notices showing an earlier version are edited to say what
    became of it and lose their buttons (bot/services/staff_notices.py)."""
    d = deps(context)

    async def describe(shown: StaffNotice) -> str:
        locale = await chat_locale(context, shown.chat_id)
        return bookings.staff_outdated(d.renderer, locale, booking, shown)

    if await staff_notices.retire_outdated(d.db, booking, describe, now=d.now()):
        _wake_sender(context)


def notice_button(raw: str) -> tuple[int, int]:
    """The booking and version a notice's button shows (`<id>:<version>`); a button from before
    versions were shown is taken for version 1."""
    booking_id, _, version = raw.partition(":")
    return row_id(booking_id), row_id(version) if version else 1


async def refuse_notice_press(update: Update, context: Context, error: DomainError) -> None:
    """Refuse a notice's button: an outdated notice gets a pop-up saying what the booking is
    now, and is edited to say so (if it was not yet); any other refusal gets its reply."""
    query = update.callback_query
    assert query is not None
    if not isinstance(error, OutdatedNotice):
        await query.answer()
        await refuse(update, context, error)
        return
    d, booking = deps(context), error.context["b"]
    locale = await chat_locale(context, chat_id_of(update))
    await query.answer(bookings.staff_outdated_alert(d.renderer, locale, booking), show_alert=True)
    await update_staff_notices(context, booking)


async def desk_changed(update: Update, context: Context, booking: Booking) -> None:
    """Staff or an admin changed a booking: "done" to them, the citizen told, the booking's
    earlier staff notices edited."""
    await reply(update, context, "staff/done.html", b=booking)
    await tell_citizen(context, booking, "citizen/booking_state.html")
    await update_staff_notices(context, booking)


async def tell_citizen(context: Context, booking: Booking, template: str, **values: object) -> None:
    """A change to the citizen's booking (confirmed, rejected, recorded, cancelled by closure)."""
    d = deps(context)
    locale = await chat_locale(context, booking.chat_id)
    point = await get_service_point(d.db, booking.service_point)
    resident = await get_resident(d.db, booking.nik)
    person = resident.nama if resident else ""
    message = bookings.changed(
        d.renderer, locale, booking, point, person=person, template=template, **values
    )
    await notice(context, booking.chat_id, "booking", message, about=f"booking:{booking.id}")


async def notice(
    context: Context, chat_id: int, kind: str, message: Message, *, about: str
) -> None:
    """Plan a notice nobody is waiting for in the outbox and wake the sender.

    Each event is planned once, so the key only has to be unique (`about` says what it concerns).
    """
    d = deps(context)
    key = f"notice:{about}:{secrets.token_hex(8)}"
    planned = outbox.Planned(key, chat_id, kind, message.text, message.keyboard_json())
    await outbox.enqueue_many(d.db, [planned], now=d.now(), quiet=d.settings.quiet_hours)
    _wake_sender(context)


def _wake_sender(context: Context) -> None:
    sender = context.bot_data.get("sender")
    if sender is not None:
        sender.wake()


async def offer_place(context: Context, offer: Offer | None) -> None:
    """Offer a freed place to the person first on the waitlist, held for 10 minutes."""
    if offer is None:
        return
    d = deps(context)
    locale = await chat_locale(context, offer.chat_id)
    point = await get_service_point(d.db, offer.service_point)
    message = waitlist.offer(d.renderer, locale, offer, point)
    await notice(context, offer.chat_id, "booking", message, about=f"offer:{offer.id}")


# --- damaged and lost card tickets ---


async def tell_staff_ticket(context: Context, ticket: Ticket) -> None:
    """Post a new ticket to the point's staff; its photo or police report opens on demand."""
    d = deps(context)
    resident = await get_resident(d.db, ticket.nik)
    for chat_id in await staff_recipients(d.db, ticket.service_point):
        locale = await chat_locale(context, chat_id)
        message = tickets.staff_new(d.renderer, locale, ticket, resident)
        await notice(context, chat_id, "staff", message, about=f"ticket:{ticket.id}")


async def send_ticket_file(context: Context, chat_id: int, ticket: Ticket) -> None:
    """Re-send the citizen's photo or PDF (by Telegram file_id) to a staff chat."""
    caption = ticket.number
    if ticket.file_type == "photo" and ticket.file_id:
        await context.bot.send_photo(chat_id, ticket.file_id, caption=caption)
    elif ticket.file_type == "document" and ticket.file_id:
        await context.bot.send_document(chat_id, ticket.file_id, caption=caption)


async def tell_citizen_ticket(context: Context, ticket: Ticket) -> None:
    """A ticket changed state: tell the citizen, in their language."""
    d = deps(context)
    locale = await chat_locale(context, ticket.chat_id)
    point = await get_service_point(d.db, ticket.service_point)
    message = tickets.citizen_state(d.renderer, locale, ticket, point)
    await notice(context, ticket.chat_id, "booking", message, about=f"ticket:{ticket.id}")
