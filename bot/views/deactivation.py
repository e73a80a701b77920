"""Messages of the annual deactivation: the preview for the admins, the notice to linked chats."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.rendering import Renderer
from bot.services.deactivation import Notice, Run
from bot.storage.elsewhere import PlaceCount
from bot.views import Message, keyboard
from bot.views.reminders import book_recording


def preview(
    renderer: Renderer, locale: str, run: Run, elsewhere: list[PlaceCount] | None = None
) -> Message:
    """Totals per kecamatan and the desa with the most, and those a family reported living
    elsewhere as their own group; Approve (while nothing is applied and someone would be
    deactivated) and the per-desa CSV."""
    text = renderer.render(
        locale,
        "admin/deactivation_preview.html",
        run=run,
        top_desa=run.top_desa(),
        elsewhere=elsewhere or [],
    )
    rows = []
    if not run.applied and run.total:
        rows.append([("dz_approve", f"dz:ask:{run.id}")])
    if run.desa:
        rows.append([("dz_csv", f"dz:csv:{run.id}")])
    return Message(text, keyboard(renderer, locale, rows) if rows else None)


def deactivated(renderer: Renderer, locale: str, notice: Notice) -> Message:
    """A linked resident's NIK was deactivated, with a button to book the recording; about
    someone the chat reported living elsewhere, how to record there (or the office's advice
    from abroad), without the button."""
    place = notice.elsewhere.name(locale) if notice.elsewhere else ""
    text = renderer.render(locale, "citizen/deactivated_notice.html", notice=notice, place=place)
    if notice.elsewhere is not None:
        return Message(text)
    return Message(text, book_recording(renderer, locale))


def confirm(renderer: Renderer, locale: str, run: Run, count: int) -> Message:
    """Before applying: how many would be deactivated today; Confirm (with the count) / Cancel."""
    text = renderer.render(locale, "admin/deactivation_confirm.html", run=run, count=count)
    confirm_label = renderer.label(locale, "dz_confirm", count=count)
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(confirm_label, callback_data=f"dz:ok:{run.id}")],
            [
                InlineKeyboardButton(
                    renderer.label(locale, "dz_cancel"), callback_data=f"dz:no:{run.id}"
                )
            ],
        ]
    )
    return Message(text, markup)
