"""Staff running a mobile recording drive: its list of bookings on demand (`/daftar_keliling
[KODE]`) and as a CSV document (the list's button). The list also arrives by itself the evening
before (bot/jobs/drive_desk.py); visitors are checked in with /masuk as at the office."""

from __future__ import annotations

import io

from telegram import InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import Context, chat_locale, deps
from bot.domain import RoleUser
from bot.errors import DomainError
from bot.handlers.common import HTML, callback_arg, chat_id_of, refuse, requires_role
from bot.services import drive_desk
from bot.views import drive_desk as views


@requires_role("daftar_keliling")
async def drive_list(update: Update, context: Context, staff: RoleUser) -> None:
    """/daftar_keliling [KODE]: that drive's bookings (else my point's next drive)."""
    d = deps(context)
    code = context.args[0] if context.args else None
    try:
        listing = await drive_desk.staff_drive_list(
            d.db, staff=staff, code=code, today=d.today(), now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    locale = await chat_locale(context, chat_id_of(update))
    for message in views.drive_list(d.renderer, locale, listing):
        await context.bot.send_message(
            chat_id_of(update), message.text, parse_mode=HTML, reply_markup=message.keyboard
        )


@requires_role("daftar_keliling")
async def drive_csv(update: Update, context: Context, staff: RoleUser) -> None:
    """`dv:csv:<code>`: the drive's list as of now, as a CSV document (time, code, name)."""
    d = deps(context)
    code = callback_arg(update).removeprefix("csv:")
    try:
        listing = await drive_desk.staff_drive_list(
            d.db, staff=staff, code=code, today=d.today(), now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    content = io.BytesIO(drive_desk.list_csv(listing))
    document = InputFile(content, filename=drive_desk.list_filename(listing))
    await context.bot.send_document(chat_id_of(update), document)


def register(app: Application) -> None:
    """Add the drive list command and its CSV button (guarded by the roles table)."""
    app.add_handler(CommandHandler("daftar_keliling", drive_list))
    app.add_handler(CallbackQueryHandler(drive_csv, pattern=r"^dv:csv:"))
