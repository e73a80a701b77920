"""Views: the text and keyboard of each kind of message the bot sends.

A view is a pure function of a renderer, a locale and the data the message is about: it reads no
database and calls no Telegram method. Handlers send what a view builds; jobs queue it in the
outbox. The modules are named by what the messages are about (bookings, tickets, ...).
"""

from __future__ import annotations

from typing import NamedTuple

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.rendering import Renderer

# One keyboard row: (label key in labels.j2, callback data) pairs.
Row = list[tuple[str, str]]


class Message(NamedTuple):
    """A message's text (Telegram HTML) and its inline keyboard, if any."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None

    def keyboard_json(self) -> str | None:
        """The keyboard as the outbox stores it."""
        return self.keyboard.to_json() if self.keyboard else None


def keyboard(renderer: Renderer, locale: str, rows: list[Row]) -> InlineKeyboardMarkup:
    """An inline keyboard whose labels come from the locale's labels template."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(renderer.label(locale, key), callback_data=data)
                for key, data in row
            ]
            for row in rows
        ]
    )
