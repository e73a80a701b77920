"""Reminders to residents (a teen turning 17, the recording deadline, a deactivated NIK)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.rendering import Renderer
from bot.services.reminders import Reminder
from bot.views import keyboard

BOOK_RECORDING = "bk:start:rekam"  # the booking flow, service step skipped (also re-activates)


def reminder_text(renderer: Renderer, locale: str, reminder: Reminder) -> str:
    """The reminder of its kind, in the chat's language."""
    return renderer.render(locale, f"citizen/reminder_{reminder.kind}.html", reminder=reminder)


def book_recording(renderer: Renderer, locale: str) -> InlineKeyboardMarkup:
    """The button under every resident's reminder: book the recording visit."""
    return keyboard(renderer, locale, [[("book_recording", BOOK_RECORDING)]])
