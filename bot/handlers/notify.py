"""Messages the bot sends on its own initiative about bookings: to citizens and to staff."""

from __future__ import annotations

import io
import logging

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.domain import Booking
from bot.handlers.common import HTML, Context, chat_locale, deps
from bot.services.staffdesk import staff_recipients
from bot.services.waitlist import Offer
from bot.storage.residents import get_resident
from bot.storage.service_points import get_service_point

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
        try:
            await context.bot.send_message(chat_id, text, parse_mode=HTML, reply_markup=markup)
        except TelegramError as error:  # a staff chat that blocked or never opened the bot
            log.warning("could not notify staff chat %s: %s", chat_id, error)


async def tell_citizen(context: Context, booking: Booking, template: str, **values: object) -> None:
    """A change to the citizen's booking (confirmed, rejected, recorded, cancelled by closure)."""
    d = deps(context)
    locale = await chat_locale(context, booking.chat_id)
    point = await get_service_point(d.db, booking.service_point)
    text = d.renderer.render(locale, template, b=booking, point=point, **values)
    markup = None
    if booking.state in ("rejected", "cancelled"):
        label = d.renderer.label(locale, "booking_rebook")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data="menu:antre")]])
    await context.bot.send_message(booking.chat_id, text, parse_mode=HTML, reply_markup=markup)


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
    await context.bot.send_message(offer.chat_id, text, parse_mode=HTML, reply_markup=markup)
