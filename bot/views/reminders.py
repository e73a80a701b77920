"""Reminders to residents (a teen turning 17, the recording deadline, a deactivated NIK)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.rendering import Renderer
from bot.services.reminders import Reminder
from bot.views import keyboard

BOOK_RECORDING = "bk:start:rekam"  # the booking flow, service step skipped (also re-activates)


def reminder_text(renderer: Renderer, locale: str, reminder: Reminder) -> str:
    """The reminder of its kind, in the chat's language; about someone reported abroad, the
    office's advice (one template the office edits) whatever the kind."""
    name = "abroad" if reminder.abroad else reminder.kind
    place = reminder.elsewhere.name(locale) if reminder.elsewhere else ""
    return renderer.render(locale, f"citizen/reminder_{name}.html", reminder=reminder, place=place)


def reminder_markup(renderer: Renderer, locale: str, reminder: Reminder) -> str | None:
    """The booking button as JSON, except for someone reported living elsewhere (they record
    where they live, or ask the office from abroad)."""
    if reminder.elsewhere is not None:
        return None
    return book_recording(renderer, locale).to_json()


def book_recording(renderer: Renderer, locale: str) -> InlineKeyboardMarkup:
    """The button under every resident's reminder: book the recording visit."""
    return keyboard(renderer, locale, [[("book_recording", BOOK_RECORDING)]])
