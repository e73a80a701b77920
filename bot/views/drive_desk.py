"""Messages about a mobile recording drive for the staff who run it (its list of bookings), for
the admins and officials (its summary), and the invitation's button to book a place."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain import Drive
from bot.rendering import Renderer
from bot.services.drive_desk import DriveList, DriveOutcome
from bot.views import Message, keyboard

LIST_PAGE = 40  # lines per message, well under 4,096 characters
CSV_BUTTON = "dv:csv:"  # + the drive's code: the list as a CSV document


def drive_list(renderer: Renderer, locale: str, listing: DriveList) -> list[Message]:
    """The drive's list, in pages of LIST_PAGE bookings; the last has the CSV button."""
    entries = listing.entries
    pages = [entries[i : i + LIST_PAGE] for i in range(0, len(entries), LIST_PAGE)] or [[]]
    csv = keyboard(renderer, locale, [[("drive_list_csv", CSV_BUTTON + listing.drive.code)]])
    return [
        Message(
            renderer.render(
                locale,
                "staff/drive_list.html",
                listing=listing,
                entries=page,
                page=number,
                pages=len(pages),
            ),
            csv if number == len(pages) else None,
        )
        for number, page in enumerate(pages, start=1)
    ]


def drive_outcome(renderer: Renderer, locale: str, summary: DriveOutcome) -> Message:
    """After the drive: places, booked, came, recorded, per desa."""
    return Message(renderer.render(locale, "official/drive_outcome.html", drive_report=summary))


def drive_choices(renderer: Renderer, locale: str, drives: Sequence[Drive]) -> InlineKeyboardMarkup:
    """One button per drive an invitation may announce (`sr:d:<code>`)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    renderer.label(locale, "drive_pick", drive=drive),
                    callback_data=f"sr:d:{drive.code}",
                )
            ]
            for drive in drives
        ]
    )


def book_button(renderer: Renderer, locale: str, link: str) -> InlineKeyboardMarkup:
    """The invitation's button: the deep link that opens the booking at the drive."""
    label = renderer.label(locale, "drive_book_place")
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=link)]])
