"""Staff at a service point: today's queue, confirm/reject, check-in, outcomes (admins close
points in closures.py and set auto-confirm in admin.py)."""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context, chat_locale, deps
from bot.domain import Booking, RoleUser
from bot.errors import DomainError, InvalidReason
from bot.handlers.common import (
    HTML,
    TYPED_ANSWER,
    answer_query,
    callback_arg,
    refuse,
    reply,
    requires_role,
    row_id,
)
from bot.handlers.notify import (
    desk_changed,
    notice_button,
    offer_place,
    refuse_notice_press,
    tell_citizen,
    update_staff_notices,
)
from bot.services import frontdesk
from bot.services.directory import get_service_point

TYPING_REASON = 0
QUEUE_PAGE = 40  # lines per /hari_ini message, well under 4,096 characters


@requires_role("hari_ini")
async def today(update: Update, context: Context, staff: RoleUser) -> None:
    """/hari_ini: today's queue at my service point, by time and queue number, with states."""
    d = deps(context)
    entries = await frontdesk.today_queue(d.db, staff=staff, day=d.today())
    point = await get_service_point(d.db, staff.service_point or "")
    pages = [entries[i : i + QUEUE_PAGE] for i in range(0, len(entries), QUEUE_PAGE)] or [[]]
    for number, page in enumerate(pages, start=1):  # a full day does not fit one message
        rows = [[("staff_confirm_tomorrow", "st:all")]] if number == len(pages) else None
        await reply(
            update,
            context,
            "staff/today.html",
            rows=rows,
            point=point,
            today=d.today(),
            entries=page,
            page=number,
            pages=len(pages),
        )


@requires_role("masuk")
async def check_in(update: Update, context: Context, staff: RoleUser) -> None:
    """/masuk KODE: check a visitor in by booking code; then offer the outcome buttons."""
    if not context.args:
        await reply(update, context, "staff/check_in_usage.html")
        return
    d = deps(context)
    try:
        booking = await frontdesk.check_in(d.db, " ".join(context.args), staff=staff, now=d.now())
    except DomainError as error:
        await refuse(update, context, error)
        return
    await _send_outcome_buttons(update, context, booking)
    await update_staff_notices(context, booking)


@requires_role("tidak_hadir")
async def no_show(update: Update, context: Context, staff: RoleUser) -> None:
    """/tidak_hadir KODE: the visitor did not come; the citizen is told."""
    if not context.args:
        await reply(update, context, "staff/no_show_usage.html")
        return
    d = deps(context)
    try:
        booking = await frontdesk.no_show_by_code(
            d.db, " ".join(context.args), staff=staff, now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await desk_changed(update, context, booking)


async def _send_outcome_buttons(update: Update, context: Context, booking: Booking) -> None:
    assert update.effective_chat is not None
    d = deps(context)
    locale = await chat_locale(context, update.effective_chat.id)
    text = d.renderer.render(locale, "staff/checked_in.html", b=booking)
    outcome = frontdesk.outcome_for(booking.service)
    buttons = [
        InlineKeyboardButton(
            d.renderer.label(locale, f"outcome_{outcome}"),
            callback_data=f"st:out:{outcome}:{booking.id}",
        )
    ]
    await context.bot.send_message(
        update.effective_chat.id,
        text,
        parse_mode=HTML,
        reply_markup=InlineKeyboardMarkup([buttons]),
    )


@requires_role("hari_ini", answered=False)
async def decide(update: Update, context: Context, staff: RoleUser) -> None:
    """`st:ok:<id>:<version>` confirms a pending booking of my point if it is still the version
    the notice shows; the citizen is told, the point's notices of it say so."""
    booking_id, version = notice_button(callback_arg(update).removeprefix("ok:"))
    d = deps(context)
    try:
        booking = await frontdesk.confirm(
            d.db, booking_id, staff=staff, now=d.now(), version=version
        )
    except DomainError as error:
        await refuse_notice_press(update, context, error)
        return
    await answer_query(update)
    await desk_changed(update, context, booking)


@requires_role("konfirmasi_besok")
async def confirm_tomorrow(update: Update, context: Context, staff: RoleUser) -> None:
    """`st:all` or /konfirmasi_besok: confirm every pending booking of tomorrow."""
    d = deps(context)
    day = d.today() + timedelta(days=1)
    confirmed = await frontdesk.confirm_all_for_day(d.db, staff=staff, day=day, now=d.now())
    await reply(update, context, "staff/confirmed_all.html", count=len(confirmed), day=day)
    for booking in confirmed:
        await tell_citizen(context, booking, "citizen/booking_state.html")
        await update_staff_notices(context, booking)


@requires_role("hari_ini", refused=ConversationHandler.END, answered=False)
async def ask_reason(update: Update, context: Context, staff: RoleUser) -> int:
    """`st:no:<id>:<version>`: ask the staff member for the reason the citizen will read."""
    assert context.user_data is not None
    raw = callback_arg(update).removeprefix("no:")
    booking_id, version = notice_button(raw)
    d = deps(context)
    try:  # another point's booking, or an outdated notice, is refused now, not after the reason
        await frontdesk.own_booking(
            d.db, booking_id, staff=staff, action="reject", now=d.now(), version=version
        )
    except DomainError as error:
        await refuse_notice_press(update, context, error)
        return ConversationHandler.END
    await answer_query(update)
    context.user_data["rejecting"] = raw
    await reply(update, context, "staff/ask_reason.html", markup=TYPED_ANSWER)
    return TYPING_REASON


@requires_role("hari_ini", refused=ConversationHandler.END)
async def reject(update: Update, context: Context, staff: RoleUser) -> int:
    """The reason was typed: reject (if the booking is still what the notice showed), tell the
    citizen, offer the place to the waitlist."""
    assert update.message is not None and context.user_data is not None
    booking_id, version = notice_button(str(context.user_data.get("rejecting", "")))
    d = deps(context)
    try:
        booking, offer = await frontdesk.reject(
            d.db,
            booking_id,
            staff=staff,
            reason=update.message.text or "",
            now=d.now(),
            version=version,
        )
    except InvalidReason as error:  # let them type it again
        await refuse(update, context, error)
        return TYPING_REASON
    except DomainError as error:
        context.user_data.pop("rejecting", None)
        await refuse(update, context, error)
        return ConversationHandler.END
    context.user_data.pop("rejecting", None)
    await desk_changed(update, context, booking)
    await offer_place(context, offer)
    return ConversationHandler.END


@requires_role("masuk")
async def outcome(update: Update, context: Context, staff: RoleUser) -> None:
    """`st:out:<outcome>:<id>`: recorded, handed over or no-show."""
    kind, _, raw = callback_arg(update).removeprefix("out:").partition(":")
    d = deps(context)
    try:
        booking = await frontdesk.record_outcome(d.db, row_id(raw), kind, staff=staff, now=d.now())
    except DomainError as error:
        await refuse(update, context, error)
        return
    await desk_changed(update, context, booking)


async def cancel_reason(update: Update, context: Context) -> int:
    """/batal while typing a reason."""
    if context.user_data is not None:
        context.user_data.pop("rejecting", None)
    await reply(update, context, "citizen/cancelled.html")
    return ConversationHandler.END


def register(app: Application) -> None:
    """Add the staff and admin commands and buttons (each guarded by the roles table)."""
    app.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(ask_reason, pattern=r"^st:no:")],
            states={TYPING_REASON: [MessageHandler(filters.TEXT & ~filters.COMMAND, reject)]},
            fallbacks=[CommandHandler("batal", cancel_reason)],
            conversation_timeout=timedelta(minutes=10),
            name="reject",
        )
    )
    app.add_handler(CommandHandler("hari_ini", today))
    app.add_handler(CommandHandler("masuk", check_in))
    app.add_handler(CommandHandler("tidak_hadir", no_show))
    app.add_handler(CommandHandler("konfirmasi_besok", confirm_tomorrow))
    app.add_handler(CallbackQueryHandler(decide, pattern=r"^st:ok:"))
    app.add_handler(CallbackQueryHandler(confirm_tomorrow, pattern=r"^st:all$"))
    app.add_handler(CallbackQueryHandler(outcome, pattern=r"^st:out:"))
