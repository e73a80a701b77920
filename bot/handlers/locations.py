"""/lokasi: service points, opening hours, and a map pin for each."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context, chat_locale, deps
from bot.domain import ServicePoint
from bot.handlers.common import callback_arg, reply
from bot.rendering import Renderer
from bot.services.directory import get_service_point, list_service_points


async def show(update: Update, context: Context) -> None:
    """The list of service points with a map button for each."""
    assert update.effective_chat is not None
    d = deps(context)
    points = await list_service_points(d.db)
    locale = await chat_locale(context, update.effective_chat.id)
    markup = _map_buttons(d.renderer, locale, points)
    await reply(update, context, "citizen/locations.html", markup=markup, points=points)


async def pin(update: Update, context: Context) -> None:
    """A map button: send the service point as a venue."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    d = deps(context)
    point = await get_service_point(d.db, callback_arg(update))
    if point is None:
        await reply(update, context, "citizen/error_stale_button.html")
        return
    locale = await chat_locale(context, update.effective_chat.id)
    await context.bot.send_venue(
        update.effective_chat.id,
        latitude=point.latitude,
        longitude=point.longitude,
        title=point.name,
        address=d.renderer.render(locale, "citizen/venue_address.txt", point=point),
    )


def _map_buttons(
    renderer: Renderer, locale: str, points: list[ServicePoint]
) -> InlineKeyboardMarkup:
    """Two map buttons a row, one per service point."""
    buttons = [
        InlineKeyboardButton(
            renderer.label(locale, "map_pin", point=p), callback_data=f"loc:{p.code}"
        )
        for p in points
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def register(app: Application) -> None:
    """Add /lokasi and its map buttons."""
    app.add_handler(CommandHandler("lokasi", show, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(pin, pattern=r"^loc:"))
