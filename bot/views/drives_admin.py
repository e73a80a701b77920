"""The admin's /keliling keyboards: the upcoming drives, each with Change and Cancel."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Drive
from bot.rendering import Renderer


def listing(renderer: Renderer, locale: str, drives: list[Drive]) -> InlineKeyboardMarkup:
    """A row per drive (change, cancel), then the button that plans a new one."""
    rows = [
        [
            InlineKeyboardButton(
                renderer.label(locale, key, code=drive.code),
                callback_data=f"kl:{action}:{drive.code}",
            )
            for key, action in (("drive_change", "chg"), ("drive_cancel", "del"))
        ]
        for drive in drives
    ]
    rows.append([InlineKeyboardButton(renderer.label(locale, "drive_new"), callback_data="kl:new")])
    return InlineKeyboardMarkup(rows)
