"""/hapus_data: erase everything the bot holds about this chat, after a confirmation."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context, chat_locale, deps
from bot.handlers.common import callback_arg, edit, reply
from bot.handlers.notify import offer_place
from bot.services.links import erase_chat


async def ask(update: Update, context: Context) -> None:
    """Explain what will be erased and ask to confirm."""
    rows = [[("erase_yes", "erase:yes"), ("erase_no", "erase:no")]]
    await reply(update, context, "citizen/erase_confirm.html", rows=rows)


async def confirmed(update: Update, context: Context) -> None:
    """Erase (or keep) the chat's data."""
    assert update.callback_query is not None
    assert update.effective_chat is not None and update.effective_user is not None
    if update.effective_chat.type != ChatType.PRIVATE:
        await private_only(update, context)
        return
    await update.callback_query.answer()
    if callback_arg(update) != "yes":
        await edit(update, context, "citizen/erase_kept.html")
        return
    locale = await chat_locale(context, update.effective_chat.id)  # said in the chat's language
    d = deps(context)
    offers = await erase_chat(d.db, update.effective_chat.id, update.effective_user.id, now=d.now())
    if context.user_data is not None:
        context.user_data.clear()
    await edit(update, context, "citizen/erase_done.html", locale=locale)
    for offer in offers:
        await offer_place(context, offer)


async def private_only(update: Update, context: Context) -> None:
    """An erase button pressed in a group (a forged one: the bot offers it only in private):
    nothing is erased, the presser alone reads why."""
    assert update.callback_query is not None and update.effective_chat is not None
    locale = await chat_locale(context, update.effective_chat.id)
    text = deps(context).renderer.render(locale, "citizen/erase_private_only.txt")
    await update.callback_query.answer(text, show_alert=True)


def register(app: Application) -> None:
    """Add /hapus_data and its buttons."""
    app.add_handler(CommandHandler("hapus_data", ask, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(confirmed, pattern=r"^erase:"))
