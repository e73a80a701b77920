"""/pengingat: the chat's linked NIKs and households; reminders on/off; unlink."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context, chat_locale, deps
from bot.errors import DomainError
from bot.handlers.common import callback_arg, refuse, reply, row_id
from bot.rendering import Renderer
from bot.services.links import LinkView, chat_links, toggle_reminders, unlink


async def show(update: Update, context: Context) -> None:
    """List the chat's links with a switch and a remove button for each."""
    assert update.effective_chat is not None
    d = deps(context)
    views = await chat_links(d.db, update.effective_chat.id)
    locale = await chat_locale(context, update.effective_chat.id)
    markup = _buttons(d.renderer, locale, views) if views else None
    await reply(update, context, "citizen/links.html", markup=markup, views=views)


async def change(update: Update, context: Context) -> None:
    """`rem:t:<id>` switches reminders, `rem:d:<id>` removes the link; then the list again."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    action, _, raw_id = callback_arg(update).partition(":")
    d = deps(context)
    chat_id = update.effective_chat.id
    try:
        link_id = row_id(raw_id) if action in ("t", "d") else -1
        if action == "t":
            await toggle_reminders(d.db, chat_id, link_id, now=d.now())
        else:  # `d`; anything else names no link (-1) and is answered as a stale button
            await unlink(d.db, chat_id, link_id, now=d.now())
    except DomainError as error:
        await refuse(update, context, error)
        return
    await show(update, context)


def _buttons(renderer: Renderer, locale: str, views: list[LinkView]) -> InlineKeyboardMarkup:
    """Per link: reminders on/off and unlink; then per person it covers (each once, numbered
    as /domisili numbers them): report that they live elsewhere (`dom:go:<n>`)."""
    rows, people = [], 0
    seen: set[str] = set()
    for number, view in enumerate(views, start=1):
        key = "reminders_off" if view.link.reminders_on else "reminders_on"
        rows.append(
            [
                InlineKeyboardButton(
                    renderer.label(locale, key, number=number),
                    callback_data=f"rem:t:{view.link.id}",
                ),
                InlineKeyboardButton(
                    renderer.label(locale, "unlink", number=number),
                    callback_data=f"rem:d:{view.link.id}",
                ),
            ]
        )
        for person in view.people:
            if person.nik in seen:
                continue
            seen.add(person.nik)
            people += 1
            label = renderer.label(locale, "elsewhere_go", resident=person, changing=False)
            rows.append([InlineKeyboardButton(label, callback_data=f"dom:go:{people}")])
    return InlineKeyboardMarkup(rows)


def register(app: Application) -> None:
    """Add /pengingat and its buttons."""
    app.add_handler(CommandHandler("pengingat", show, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(change, pattern=r"^rem:"))
