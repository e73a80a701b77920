"""Staff handle damaged/lost card tickets; admins keep the destruction register."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context, chat_locale, deps
from bot.domain import RoleUser, Ticket
from bot.errors import DomainError, InvalidReason
from bot.handlers.common import (
    HTML,
    TYPED_ANSWER,
    callback_arg,
    refuse,
    reply,
    requires_role,
    row_id,
)
from bot.handlers.notify import send_ticket_file, tell_citizen_ticket
from bot.services import destruction, tickets
from bot.views.tickets import staff_card

TYPING_REASON = 0
STEPS: dict[str, Callable[..., Awaitable[Ticket]]] = {
    "v": tickets.verify,
    "p": tickets.mark_printed,
    "r": tickets.mark_ready,
    "h": tickets.hand_over,
}


@requires_role("tiket")
async def open_tickets(update: Update, context: Context, staff: RoleUser) -> None:
    """/tiket: open tickets of my service point, each with its next step."""
    d = deps(context)
    found = await tickets.open_tickets_for_point(d.db, staff=staff)
    await reply(update, context, "staff/tickets.html", tickets=found)
    for ticket in found:
        await _show(update, context, ticket)


@requires_role("tiket")
async def step(update: Update, context: Context, staff: RoleUser) -> None:
    """`tks:<v|p|r|h>:<id>`: verify, printed, ready for pick-up, handed over."""
    action, _, raw = callback_arg(update).partition(":")
    d = deps(context)
    try:
        ticket = await STEPS[action](d.db, row_id(raw), staff=staff, now=d.now())
    except (DomainError, KeyError) as error:
        await _refuse(update, context, error)
        return
    await _show(update, context, ticket, done=True)
    await tell_citizen_ticket(context, ticket)


@requires_role("tiket")
async def show_file(update: Update, context: Context, staff: RoleUser) -> None:
    """`tks:f:<id>`: send the ticket's photo or PDF to the staff member privately."""
    assert update.effective_user is not None
    raw = callback_arg(update).removeprefix("f:")
    d = deps(context)
    try:
        ticket = await tickets.ticket_for_step(
            d.db, row_id(raw), staff=staff, action="file", now=d.now()
        )
        await send_ticket_file(context, update.effective_user.id, ticket)
    except DomainError as error:
        await refuse(update, context, error)
    except TelegramError:  # never opened a private chat with the bot
        await reply(update, context, "staff/open_private_first.html")


@requires_role("tiket", refused=ConversationHandler.END)
async def ask_reason(update: Update, context: Context, staff: RoleUser) -> int:
    """`tks:x:<id>`: ask for the reason the citizen will read."""
    assert context.user_data is not None
    raw = callback_arg(update).removeprefix("x:")
    d = deps(context)
    try:
        await tickets.ticket_for_step(
            d.db, row_id(raw), staff=staff, action="rejected", now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    context.user_data["rejecting_ticket"] = raw
    await reply(update, context, "staff/ask_reason.html", markup=TYPED_ANSWER)
    return TYPING_REASON


@requires_role("tiket", refused=ConversationHandler.END)
async def reject(update: Update, context: Context, staff: RoleUser) -> int:
    """The reason was typed: reject the ticket and tell the citizen."""
    assert update.message is not None and context.user_data is not None
    raw = str(context.user_data.get("rejecting_ticket", ""))
    d = deps(context)
    try:
        ticket = await tickets.reject(
            d.db, row_id(raw), staff=staff, reason=update.message.text or "", now=d.now()
        )
    except InvalidReason as error:  # let them type it again
        await refuse(update, context, error)
        return TYPING_REASON
    except DomainError as error:
        context.user_data.pop("rejecting_ticket", None)
        await refuse(update, context, error)
        return ConversationHandler.END
    context.user_data.pop("rejecting_ticket", None)
    await _show(update, context, ticket, done=True)
    await tell_citizen_ticket(context, ticket)
    return ConversationHandler.END


async def cancel_reason(update: Update, context: Context) -> int:
    """/batal while typing a reason."""
    (context.user_data or {}).pop("rejecting_ticket", None)
    await reply(update, context, "citizen/cancelled.html")
    return ConversationHandler.END


@requires_role("musnah")
async def destroy(update: Update, context: Context, admin: RoleUser) -> None:
    """/musnah YYYY-MM-DD | metode | saksi [| nomor tiket ...]: record a destruction batch."""
    assert update.message is not None
    parts = [p.strip() for p in (update.message.text or "").partition(" ")[2].split("|")]
    if len(parts) < 3:
        await reply(update, context, "admin/destroy_usage.html")
        return
    method, witnesses = parts[1], parts[2]
    numbers = parts[3].upper().split() if len(parts) > 3 and parts[3] else None
    d = deps(context)
    try:
        batch = await destruction.record_batch(
            d.db,
            admin=admin,
            destroyed_on=destruction.parse_batch_date(parts[0]),
            method=method,
            witnesses=witnesses,
            ticket_numbers=numbers,
            now=d.now(),
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await reply(update, context, "admin/destroyed.html", batch=batch)


@requires_role("daftar_musnah")
async def register_summary(update: Update, context: Context, admin: RoleUser) -> None:
    """/daftar_musnah: cards waiting, destroyed per batch and per year."""
    summary = await destruction.destruction_summary(deps(context).db)
    await reply(update, context, "admin/destruction_register.html", register=summary)


async def _show(update: Update, context: Context, ticket: Ticket, *, done: bool = False) -> None:
    """The ticket for the staff chat, with its next-step buttons and a button for the file."""
    assert update.effective_chat is not None
    d = deps(context)
    locale = await chat_locale(context, update.effective_chat.id)
    text, markup = staff_card(d.renderer, locale, ticket, done=done)
    await context.bot.send_message(
        update.effective_chat.id, text, parse_mode=HTML, reply_markup=markup
    )


async def _refuse(update: Update, context: Context, error: Exception) -> None:
    if isinstance(error, DomainError):
        await refuse(update, context, error)
    else:
        await reply(update, context, "citizen/error_stale_button.html")


def register(app: Application) -> None:
    """Add the ticket commands and buttons (each guarded by the roles table)."""
    app.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(ask_reason, pattern=r"^tks:x:")],
            states={TYPING_REASON: [MessageHandler(filters.TEXT & ~filters.COMMAND, reject)]},
            fallbacks=[CommandHandler("batal", cancel_reason)],
            conversation_timeout=timedelta(minutes=10),
            name="reject-ticket",
        )
    )
    app.add_handler(CommandHandler("tiket", open_tickets, filters=filters.ChatType.PRIVATE))
    app.add_handler(CommandHandler("musnah", destroy))
    app.add_handler(CommandHandler("daftar_musnah", register_summary))
    app.add_handler(CallbackQueryHandler(step, pattern=r"^tks:[vprh]:"))
    app.add_handler(CallbackQueryHandler(show_file, pattern=r"^tks:f:"))
