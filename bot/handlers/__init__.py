"""Telegram handlers: parse the update, call a service, render a template, send."""

from __future__ import annotations

from telegram.ext import Application

from bot.handlers import check, erase, group, language, locations, reminders, roles, start
from bot.handlers.errors import on_error


def register(app: Application) -> None:
    """Add every handler, most specific first; start's catch-alls go last."""
    for module in (group, check, language, locations, reminders, erase, roles, start):
        module.register(app)
    app.add_error_handler(on_error)
