"""The kecamatan buttons under /statistik: one per kecamatan of the regency, by name."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Area

KECAMATAN_BUTTON = "stat:kec:"  # + the kecamatan's plain code
KECAMATAN_PATTERN = rf"^{KECAMATAN_BUTTON}\d+$"
PER_ROW = 3  # 22 kecamatan in 8 rows: names of up to ~12 letters fit a phone's width


def kecamatan_keyboard(areas: Sequence[Area]) -> InlineKeyboardMarkup:
    """A button per kecamatan, alphabetically, PER_ROW a row."""
    buttons = [
        InlineKeyboardButton(area.name, callback_data=f"{KECAMATAN_BUTTON}{area.code}")
        for area in sorted(areas, key=lambda area: area.name)
    ]
    return InlineKeyboardMarkup(
        [buttons[start : start + PER_ROW] for start in range(0, len(buttons), PER_ROW)]
    )
