"""Messages the bot sends on its own initiative about bookings and tickets.

A reply to the person who pressed or typed goes straight back; a notice to anyone else (the staff
of a point, the citizen whose booking staff changed, the next person on the waitlist) is written
to the outbox first, so a crash or a Telegram outage loses none, and the sender delivers it.
"""

from __future__ import annotations

import io
import logging
import secrets

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.context import Context, chat_locale, deps
from bot.domain import Booking, Ticket
from bot.handlers.common import HTML
from bot.rendering import Renderer
from bot.services import outbox
from bot.services.directory import get_resident, get_service_point
from bot.services.staffdesk import staff_recipients
from bot.services.waitlist import Offer

log = logging.getLogger(__name__)


def qr_png(code: str) -> bytes:
    """A QR code of the booking code, for the counter's scanner."""
    buffer = io.BytesIO()
    segno.make(code, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


async def announce_booking(context: Context, booking: Booking, *, moved: bool = False) -> None:
    """Tell the citizen (code, queue number, time, place, what to bring, QR, pin); tell staff."""
    d = deps(context)
    locale = await chat_locale(context, booking.chat_id)
    point = await get_service_point(d.db, booking.service_point)
    assert point is not None
    text = d.renderer.render(
        locale, "citizen/booking_confirmed.html", b=booking, point=point, moved=moved
    )
    await context.bot.send_message(booking.chat_id, text, parse_mode=HTML)
    caption = d.renderer.render(locale, "citizen/booking_qr_caption.txt", b=booking)
    await context.bot.send_photo(booking.chat_id, qr_png(booking.code), caption=caption)
    await context.bot.send_venue(
        booking.chat_id, latitude=point.latitude, longitude=point.longitude,
        title=point.name,
        address=d.renderer.render(locale, "citizen/venue_address.txt", point=point),
    )  # fmt: skip
    if booking.state == "pending":
        await tell_staff_pending(context, booking)


async def tell_staff_pending(context: Context, booking: Booking) -> None:
    """Post a new pending booking to the point's staff with Confirm / Reject buttons."""
    d = deps(context)
    resident = await get_resident(d.db, booking.nik)
    for chat_id in await staff_recipients(d.db, booking.service_point):
        locale = await chat_locale(context, chat_id)
        text = d.renderer.render(locale, "staff/booking_pending.html", b=booking, resident=resident)
        confirm = d.renderer.label(locale, "staff_confirm")
        reject = d.renderer.label(locale, "staff_reject")
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(confirm, callback_data=f"st:ok:{booking.id}"),
                    InlineKeyboardButton(reject, callback_data=f"st:no:{booking.id}"),
                ]
            ]
        )
        await notice(context, chat_id, "staff", text, markup, about=f"booking:{booking.id}")


async def tell_citizen(context: Context, booking: Booking, template: str, **values: object) -> None:
    """A change to the citizen's booking (confirmed, rejected, recorded, cancelled by closure)."""
    d = deps(context)
    locale = await chat_locale(context, booking.chat_id)
    point = await get_service_point(d.db, booking.service_point)
    resident = await get_resident(d.db, booking.nik)
    person = resident.nama if resident else ""
    text = d.renderer.render(locale, template, b=booking, point=point, person=person, **values)
    markup = None
    if booking.state in ("rejected", "cancelled"):
        label = d.renderer.label(locale, "booking_rebook")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data="menu:antre")]])
    await notice(context, booking.chat_id, "booking", text, markup, about=f"booking:{booking.id}")


async def notice(
    context: Context,
    chat_id: int,
    kind: str,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    about: str,
) -> None:
    """Plan a notice nobody is waiting for in the outbox and wake the sender.

    Each event is planned once, so the key only has to be unique (`about` says what it concerns).
    """
    d = deps(context)
    await outbox.enqueue(
        d.db, key=f"notice:{about}:{secrets.token_hex(8)}", chat_id=chat_id, kind=kind,
        text=text, reply_markup_json=markup.to_json() if markup else None, now=d.now(),
        quiet=d.settings.quiet_hours,
    )  # fmt: skip
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
    text = d.renderer.render(locale, "citizen/waitlist_offer.html", offer=offer, point=point)
    label = d.renderer.label(locale, "waitlist_take")
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"wl:take:{offer.id}")]]
    )
    await notice(context, offer.chat_id, "booking", text, markup, about=f"offer:{offer.id}")


# --- damaged and lost card tickets ---

TICKET_NEXT = {"reported": "v", "verified": "p", "printed": "r", "ready": "h"}


def ticket_buttons(renderer: Renderer, locale: str, ticket: Ticket) -> InlineKeyboardMarkup | None:
    """The staff's next step for a ticket (Reject while allowed, and the attached file)."""
    step = TICKET_NEXT.get(ticket.state)
    if step is None:
        return None
    row = [
        InlineKeyboardButton(
            renderer.label(locale, f"ticket_{step}"), callback_data=f"tks:{step}:{ticket.id}"
        )
    ]
    if ticket.state in ("reported", "verified"):
        label = renderer.label(locale, "staff_reject")
        row.append(InlineKeyboardButton(label, callback_data=f"tks:x:{ticket.id}"))
    rows = [row]
    if ticket.file_id:  # opened on demand, in the presser's private chat, after the role check
        label = renderer.label(locale, "ticket_file")
        rows.append([InlineKeyboardButton(label, callback_data=f"tks:f:{ticket.id}")])
    return InlineKeyboardMarkup(rows)


async def tell_staff_ticket(context: Context, ticket: Ticket) -> None:
    """Post a new ticket to the point's staff; its photo or police report opens on demand."""
    d = deps(context)
    resident = await get_resident(d.db, ticket.nik)
    for chat_id in await staff_recipients(d.db, ticket.service_point):
        locale = await chat_locale(context, chat_id)
        text = d.renderer.render(locale, "staff/ticket_new.html", t=ticket, resident=resident)
        markup = ticket_buttons(d.renderer, locale, ticket)
        await notice(context, chat_id, "staff", text, markup, about=f"ticket:{ticket.id}")


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
    text = d.renderer.render(locale, "citizen/ticket_state.html", t=ticket, point=point)
    await notice(context, ticket.chat_id, "booking", text, about=f"ticket:{ticket.id}")


async def ask_still_coming(context: Context, booking: Booking) -> None:
    """The morning question (sent by the reminders job): still coming? Yes / release my place."""
    d = deps(context)
    locale = await chat_locale(context, booking.chat_id)
    point = await get_service_point(d.db, booking.service_point)
    text = d.renderer.render(locale, "citizen/booking_still_coming.html", b=booking, point=point)
    yes = d.renderer.label(locale, "still_coming_yes")
    release = d.renderer.label(locale, "still_coming_release")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes, callback_data=f"bk:coming:{booking.id}"),
                InlineKeyboardButton(release, callback_data=f"bk:release:{booking.id}"),
            ]
        ]
    )
    await notice(context, booking.chat_id, "booking", text, markup, about=f"booking:{booking.id}")
