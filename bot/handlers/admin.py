"""Admin settings of service points made from a chat: the staff group that gets new bookings."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import Context, deps
from bot.domain import RoleUser
from bot.errors import DomainError
from bot.handlers.common import refuse, reply, requires_role
from bot.services import staff_chats


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


def register(app: Application) -> None:
    """Add the admin's chat commands."""
    app.add_handler(CommandHandler("grup_petugas", staff_group))
