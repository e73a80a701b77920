"""Admin settings made from a chat: the staff group that gets new bookings, a point's
auto-confirm, and /cabut, which takes a role or an unused invitation away; and the confirmation
of a booking staff left unconfirmed (the escalation's button, or /konfirmasi KODE)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context, deps
from bot.domain import RoleUser
from bot.errors import DomainError
from bot.handlers.common import answer_query, callback_arg, refuse, reply, requires_role
from bot.handlers.menus import reset_role_menu
from bot.handlers.notify import (
    desk_changed,
    notice_button,
    refuse_notice_press,
)
from bot.services import autoconfirm, escalation, staff_chats
from bot.services.directory import get_locale
from bot.services.invites import revoke_invite
from bot.services.roles import list_role_accounts, remove_user


@requires_role("grup_petugas")
async def staff_group(update: Update, context: Context, admin: RoleUser) -> None:
    """/grup_petugas KODE (typed in the staff group) or /grup_petugas KODE off (anywhere)."""
    assert update.effective_chat is not None
    d = deps(context)
    args = list(context.args or [])
    if not args or len(args) > 2 or (len(args) == 2 and args[1] != "off"):
        await reply(update, context, "admin/staff_group_usage.html")
        return
    group = None if len(args) == 2 else update.effective_chat.id
    if group is not None and update.effective_chat.type == "private":
        await reply(update, context, "admin/staff_group_usage.html")
        return
    try:
        await staff_chats.set_staff_chat(
            d.db, admin=admin, point_code=args[0], chat_id=group, now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await reply(update, context, "admin/staff_group_set.html", point=args[0], on=group is not None)


@requires_role("autokonfirmasi")
async def auto_confirm(update: Update, context: Context, admin: RoleUser) -> None:
    """/autokonfirmasi KODE on|off."""
    args = list(context.args or [])
    if len(args) != 2 or args[1] not in ("on", "off"):
        await reply(update, context, "admin/auto_confirm_usage.html")
        return
    d = deps(context)
    try:
        await autoconfirm.set_auto_confirm(
            d.db, admin=admin, point_code=args[0], on=args[1] == "on", now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await reply(update, context, "admin/auto_confirm_set.html", point=args[0], on=args[1] == "on")


@requires_role("konfirmasi")
async def confirm_by_code(update: Update, context: Context, admin: RoleUser) -> None:
    """/konfirmasi KODE: confirm a pending booking at any point; the citizen is told."""
    if not context.args:
        await reply(update, context, "admin/confirm_usage.html")
        return
    d = deps(context)
    try:
        booking = await escalation.confirm_code(
            d.db, " ".join(context.args), admin=admin, now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    await desk_changed(update, context, booking)


@requires_role("konfirmasi", answered=False)
async def confirm_escalated(update: Update, context: Context, admin: RoleUser) -> None:
    """`esc:ok:<id>:<version>`, on the message of a booking still unconfirmed the day before:
    only if the booking is still what the message shows (moved since: refused, as staff's)."""
    booking_id, version = notice_button(callback_arg(update).removeprefix("ok:"))
    d = deps(context)
    try:
        booking = await escalation.confirm(
            d.db, booking_id, admin=admin, now=d.now(), version=version
        )
    except DomainError as error:
        await refuse_notice_press(update, context, error)
        return
    await answer_query(update)
    await desk_changed(update, context, booking)


@requires_role("cabut")
async def revoke(update: Update, context: Context, admin: RoleUser) -> None:
    """/cabut TELEGRAM_ID takes a role away (and its menu); /cabut LINK cancels an unused
    invitation; /cabut alone says how, with the accounts that have a role."""
    d, args = deps(context), list(context.args or [])
    if len(args) != 1:
        accounts = await list_role_accounts(d.db)
        await reply(update, context, "admin/revoke_usage.html", accounts=accounts)
        return
    try:
        await _revoke(update, context, admin, args[0])
    except DomainError as error:
        await refuse(update, context, error)


async def _revoke(update: Update, context: Context, admin: RoleUser, target: str) -> None:
    """A Telegram id loses its role; anything else is taken for an invitation's link."""
    d = deps(context)
    if target.isascii() and target.isdigit() and len(target) <= 15:
        user = await remove_user(d.db, int(target), actor=admin, now=d.now())
        locale = await get_locale(d.db, user.telegram_id)
        await reset_role_menu(context.bot, user.telegram_id, d.renderer, locale)
        await reply(update, context, "admin/role_removed.html", user=user)
    else:
        revocation = await revoke_invite(d.db, target, actor=admin, now=d.now())
        await reply(update, context, "admin/invite_revoked.html", revocation=revocation)


def register(app: Application) -> None:
    """Add the admin's chat commands."""
    app.add_handler(CommandHandler("grup_petugas", staff_group))
    app.add_handler(CommandHandler("autokonfirmasi", auto_confirm))
    app.add_handler(CommandHandler("konfirmasi", confirm_by_code))
    app.add_handler(CallbackQueryHandler(confirm_escalated, pattern=r"^esc:ok:"))
    app.add_handler(CommandHandler("cabut", revoke, filters=filters.ChatType.PRIVATE))
