"""The "for whom?" question of the booking and report flows."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Resident
from bot.rendering import Renderer


def choose_person(
    renderer: Renderer, locale: str, people: list[Resident], *, prefix: str
) -> InlineKeyboardMarkup:
    """One button per known person (`<prefix>:who:<i>`, by position: no NIK in callback data)
    and "someone else" (`<prefix>:who:new`)."""
    rows = [
        [_button(renderer.label(locale, "person", resident=r), f"{prefix}:who:{i}")]
        for i, r in enumerate(people)
    ]
    rows.append([_button(renderer.label(locale, "person_new"), f"{prefix}:who:new")])
    return InlineKeyboardMarkup(rows)


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)
