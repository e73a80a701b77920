"""/jadwal: the chat's bookings; cancel with confirmation; the morning "still coming?" answer."""

from __future__ import annotations

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context, chat_locale, deps
from bot.domain import HOLDING_STATES
from bot.errors import DomainError
from bot.handlers.common import (
    HTML,
    answer_query,
    callback_arg,
    chat_id_of,
    edit,
    offered,
    refuse,
    reply,
    row_id,
    stale_choice,
)
from bot.handlers.notify import announce_booking, offer_place, send_qr, update_staff_notices
from bot.services import booking as booking_service
from bot.services.booking import Listed
from bot.services.directory import get_service_point
from bot.services.waitlist import take_offer
from bot.views import Message
from bot.views.bookings import listing

LISTING = "jadwal"  # user_data: the /jadwal message to refresh after a change made from it


async def show(update: Update, context: Context) -> None:
    """List the chat's bookings, numbered, with whose each is; see views.bookings.listing."""
    chat_id, data = chat_id_of(update), context.user_data
    text, markup = await _listing(context, chat_id)
    sent = await context.bot.send_message(chat_id, text, parse_mode=HTML, reply_markup=markup)
    if data is not None:
        data[LISTING] = sent.message_id


async def refresh(context: Context, chat_id: int) -> None:
    """Edit the /jadwal message a change was started from into the list as it is now."""
    message_id = (context.user_data or {}).get(LISTING)
    if message_id is None:
        return
    text, markup = await _listing(context, chat_id)
    try:
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, parse_mode=HTML, reply_markup=markup
        )
    except BadRequest:  # deleted by the person meanwhile
        return


async def _listing(context: Context, chat_id: int) -> Message:
    d = deps(context)
    listed = await booking_service.listed_bookings(d.db, chat_id)
    codes = {item.booking.service_point for item in listed}  # a drive's point is in no list
    points = {code: p for code in codes if (p := await get_service_point(d.db, code))}
    return listing(d.renderer, await chat_locale(context, chat_id), listed, points)


async def _own(update: Update, context: Context, prefix: str) -> Listed | None:
    """The chat's listed booking a /jadwal button names (and remember that message to
    refresh); None, after saying the choice is stale, for any other."""
    booking_id = row_id(callback_arg(update).removeprefix(prefix))
    listed = await booking_service.listed_bookings(deps(context).db, chat_id_of(update))
    found = next((i for i in listed if i.booking.id == booking_id and i.booking.active), None)
    if found is None:
        await reply(update, context, "citizen/error_stale_button.html")
    else:
        remember_listing(update, context)
    return found


def remember_listing(update: Update, context: Context) -> None:
    """The /jadwal message whose button was pressed is the one `refresh` edits."""
    query, data = update.callback_query, context.user_data
    if query is not None and query.message is not None and data is not None:
        data[LISTING] = query.message.message_id


async def ask_cancel(update: Update, context: Context) -> None:
    """Confirm before cancelling, naming the booking: code, person, service, time, place."""
    await answer_query(update)
    item = await _own(update, context, "cancel:")
    if item is None or item.booking.state not in HOLDING_STATES:
        return
    b = item.booking
    point = await get_service_point(deps(context).db, b.service_point)
    rows = [[("booking_cancel_yes", f"jd:drop:{b.id}"), ("booking_cancel_no", "jd:keep")]]
    await reply(
        update,
        context,
        "citizen/booking_cancel_confirm.html",
        rows=rows,
        b=b,
        owner=item.person,
        point=point,
    )


async def send_qr_again(update: Update, context: Context) -> None:
    """`jd:qr:<id>`: the booking's QR code again, for the counter's scanner."""
    await answer_query(update)
    item = await _own(update, context, "qr:")
    if item is not None:
        await send_qr(context, item.booking, await chat_locale(context, chat_id_of(update)))


async def cancel(update: Update, context: Context) -> None:
    """Cancel: the place is free at once and offered to the waitlist."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    if not offered(update):  # the question was answered already
        await stale_choice(update, context)
        return
    raw = callback_arg(update).removeprefix("drop:")
    d = deps(context)
    try:
        booking, offer = await booking_service.cancel(
            d.db, row_id(raw), chat_id=update.effective_chat.id, now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await edit(update, context, "citizen/booking_cancelled.html", b=booking)
    await update_staff_notices(context, booking)
    await refresh(context, booking.chat_id)
    await offer_place(context, offer)


async def keep(update: Update, context: Context) -> None:
    """The cancel confirmation's "no"."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    if not offered(update):
        await stale_choice(update, context)
        return
    await edit(update, context, "citizen/booking_kept.html")


async def still_coming(update: Update, context: Context) -> None:
    """The morning question: `bk:coming:<id>` keeps the place, `bk:release:<id>` frees it."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    action, _, raw = callback_arg(update).partition(":")
    d = deps(context)
    chat_id = update.effective_chat.id
    booking_id = row_id(raw)
    try:
        if action == "coming":  # only for a booking that still holds its place
            await booking_service.still_coming(d.db, booking_id, chat_id=chat_id)
            await edit(update, context, "citizen/booking_see_you.html")
            return
        booking, offer = await booking_service.release(
            d.db, booking_id, chat_id=chat_id, now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await edit(update, context, "citizen/booking_released.html", b=booking)
    await update_staff_notices(context, booking)
    await offer_place(context, offer)


async def take(update: Update, context: Context) -> None:
    """`wl:take:<offer>`: take the place held for this chat."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    raw = callback_arg(update).removeprefix("take:")
    d = deps(context)
    try:
        booking = await take_offer(
            d.db,
            row_id(raw),
            chat_id=update.effective_chat.id,
            now=d.now(),
            min_age=d.settings.recording_min_age,
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    offer_message = update.callback_query.message
    replacing = offer_message.message_id if offer_message and offered(update) else None
    await announce_booking(context, booking, replacing=replacing)  # the offer becomes it


def register(app: Application) -> None:
    """Add /jadwal and the booking buttons outside the booking flow."""
    app.add_handler(CommandHandler("jadwal", show, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(ask_cancel, pattern=r"^jd:cancel:"))
    app.add_handler(CallbackQueryHandler(cancel, pattern=r"^jd:drop:"))
    app.add_handler(CallbackQueryHandler(keep, pattern=r"^jd:keep$"))
    app.add_handler(CallbackQueryHandler(send_qr_again, pattern=r"^jd:qr:"))
    app.add_handler(CallbackQueryHandler(still_coming, pattern=r"^bk:(coming|release):"))
    app.add_handler(CallbackQueryHandler(take, pattern=r"^wl:take:"))
