"""/jadwal: the chat's bookings; cancel with confirmation; the morning "still coming?" answer."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context, chat_locale, deps
from bot.errors import DomainError
from bot.handlers.common import HTML, callback_arg, edit, refuse, reply, row_id
from bot.handlers.notify import announce_booking, offer_place
from bot.services import booking as booking_service
from bot.services.directory import list_service_points
from bot.services.waitlist import take_offer

PAST_SHOWN = 5  # finished or cancelled bookings listed under the active ones


async def show(update: Update, context: Context) -> None:
    """List the chat's bookings; active ones get Reschedule / Cancel buttons."""
    assert update.effective_chat is not None
    d = deps(context)
    every = await booking_service.chat_bookings(d.db, update.effective_chat.id)
    bookings = [b for b in every if b.active] + [b for b in every if not b.active][:PAST_SHOWN]
    points = {p.code: p for p in await list_service_points(d.db)}
    locale = await chat_locale(context, update.effective_chat.id)
    rows = [
        [
            _button(d.renderer.label(locale, "booking_move", number=i), f"jd:move:{b.id}"),
            _button(d.renderer.label(locale, "booking_drop", number=i), f"jd:cancel:{b.id}"),
        ]
        for i, b in enumerate(bookings, start=1)
        if b.active and b.state != "checked_in"
    ]
    text = d.renderer.render(locale, "citizen/bookings.html", bookings=bookings, places=points)
    markup = InlineKeyboardMarkup(rows) if rows else None
    await context.bot.send_message(
        update.effective_chat.id, text, parse_mode=HTML, reply_markup=markup
    )


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


async def ask_cancel(update: Update, context: Context) -> None:
    """Confirm before cancelling (only one of the chat's own active bookings)."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    booking_id = row_id(callback_arg(update).removeprefix("cancel:"))
    mine = await booking_service.chat_bookings(deps(context).db, update.effective_chat.id)
    if not any(b.id == booking_id and b.active for b in mine):
        await reply(update, context, "citizen/error_stale_button.html")
        return
    rows = [[("booking_cancel_yes", f"jd:drop:{booking_id}"), ("booking_cancel_no", "jd:keep")]]
    await reply(update, context, "citizen/booking_cancel_confirm.html", rows=rows)


async def cancel(update: Update, context: Context) -> None:
    """Cancel: the place is free at once and offered to the waitlist."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
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
    await offer_place(context, offer)


async def keep(update: Update, context: Context) -> None:
    """The cancel confirmation's "no"."""
    assert update.callback_query is not None
    await update.callback_query.answer()
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
    await announce_booking(context, booking)


def register(app: Application) -> None:
    """Add /jadwal and the booking buttons outside the booking flow."""
    app.add_handler(CommandHandler("jadwal", show, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(ask_cancel, pattern=r"^jd:cancel:"))
    app.add_handler(CallbackQueryHandler(cancel, pattern=r"^jd:drop:"))
    app.add_handler(CallbackQueryHandler(keep, pattern=r"^jd:keep$"))
    app.add_handler(CallbackQueryHandler(still_coming, pattern=r"^bk:(coming|release):"))
    app.add_handler(CallbackQueryHandler(take, pattern=r"^wl:take:"))
