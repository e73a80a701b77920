"""Telegram handlers: parse the update, call a service, render a template, send."""

from __future__ import annotations

from telegram.ext import Application

from bot.handlers import (
    admin,
    booking,
    check,
    erase,
    group,
    language,
    locations,
    my_bookings,
    reminders,
    roles,
    staff,
    start,
)
from bot.handlers.errors import on_error


def register(app: Application) -> None:
    """Add every handler, most specific first; start's catch-alls go last."""
    modules = (
        group,
        admin,
        staff,
        check,
        booking,
        my_bookings,
        language,
        locations,
        reminders,
        erase,
    )
    for module in (*modules, roles, start):
        module.register(app)
    app.add_error_handler(on_error)
