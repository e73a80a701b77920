"""Keyboards of /domisili: the linked people with their reports, and the steps of a report."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Resident
from bot.places import Place
from bot.rendering import Renderer

REASONS = ("work", "study", "marriage", "other")


def people_buttons(
    renderer: Renderer, locale: str, people: Sequence[tuple[Resident, int | None]]
) -> InlineKeyboardMarkup:
    """For the n-th person: report or change (`dom:go:<n>`), and withdraw the chat's report
    (`dom:rm:<report id>`) when it made one."""
    rows = []
    for number, (resident, report_id) in enumerate(people, start=1):
        row = [
            InlineKeyboardButton(
                renderer.label(locale, "elsewhere_go", resident=resident, changing=bool(report_id)),
                callback_data=f"dom:go:{number}",
            )
        ]
        if report_id is not None:
            label = renderer.label(locale, "elsewhere_withdraw", number=number)
            row.append(InlineKeyboardButton(label, callback_data=f"dom:rm:{report_id}"))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def place_buttons(renderer: Renderer, locale: str, places: list[Place]) -> InlineKeyboardMarkup:
    """One button per place a typed name may mean (`dom:pl:<kind>:<code>`)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    renderer.label(locale, "elsewhere_place", place=place.name(locale)),
                    callback_data=f"dom:pl:{place.key}",
                )
            ]
            for place in places
        ]
    )
