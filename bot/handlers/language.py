"""/bahasa: choose Bahasa Indonesia or English for every later reply."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context, deps
from bot.handlers.common import callback_arg, edit, offered, reply, stale_choice
from bot.handlers.menus import publish_chat_menu
from bot.rendering import LOCALES
from bot.services.directory import get_user, remember_language


async def choose(update: Update, context: Context) -> None:
    """Offer the languages."""
    rows = [[("lang_id", "lang:id"), ("lang_en", "lang:en")]]
    await reply(update, context, "citizen/language_choose.html", rows=rows)


async def chosen(update: Update, context: Context) -> None:
    """Remember the language, confirm in it and give the chat its command menu in it."""
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    locale = callback_arg(update)
    if locale not in LOCALES or not offered(update):  # e.g. a second tap after choosing
        await stale_choice(update, context)
        return
    d = deps(context)
    await remember_language(d.db, update.effective_chat.id, locale, now=d.now())
    await edit(update, context, "citizen/language_set.html")
    chat = update.effective_chat
    if chat.type == chat.PRIVATE:
        user = await get_user(d.db, chat.id)
        role = user.role if user is not None else None
        await publish_chat_menu(context.bot, chat.id, role, locale, d.renderer)


def register(app: Application) -> None:
    """Add /bahasa and its buttons."""
    app.add_handler(CommandHandler("bahasa", choose, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(chosen, pattern=r"^lang:"))
