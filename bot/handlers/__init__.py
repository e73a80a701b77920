"""Telegram handlers: parse the update, call a service, render a template, send."""

from __future__ import annotations

from telegram.ext import Application

from bot.handlers import (
    admin,
    area_reports,
    booking,
    broadcast,
    check,
    closures,
    deactivation,
    delivery,
    drive_desk,
    drives_admin,
    edits,
    elsewhere,
    erase,
    group,
    language,
    locations,
    my_bookings,
    my_reports,
    reminders,
    report,
    staff,
    start,
    tickets_staff,
)
from bot.handlers.errors import on_error


def register(app: Application) -> None:
    """Add every handler, most specific first; start's catch-alls go last."""
    # booking and report come before check: their own NIK steps win over "a typed NIK starts /cek"
    modules = [
        delivery,
        edits,  # before every flow: an edited message is never a step's answer
        group,
        admin,
        closures,
        staff,
        drive_desk,
        tickets_staff,
        broadcast,  # before check: typed free text may hold digits that look like a NIK
        drives_admin,  # likewise (a drive's name or place)
        booking,
        report,
        check,
        my_bookings,
        my_reports,
    ]
    modules += [language, locations, reminders, elsewhere, erase, area_reports, deactivation, start]
    for module in modules:
        module.register(app)
    app.add_error_handler(on_error)
