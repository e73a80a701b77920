"""The command menus: citizens' commands for everyone, role commands only in role chats, and
each chat that talked to the bot gets its menu in the chat's language."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.domain import RoleUser
from bot.engine import Connection
from bot.rendering import LOCALES, Renderer
from bot.services.directory import get_locale, list_users_with_chats
from bot.services.roles import commands_for_role

CITIZEN_COMMANDS = (
    "start",
    "cek",
    "antre",
    "jadwal",
    "lapor",
    "laporan",
    "pengingat",
    "domisili",
    "lokasi",
    "bantuan",
    "bahasa",
    "batal",
    "hapus_data",
)


def commands(renderer: Renderer, locale: str, names: list[str]) -> list[BotCommand]:
    """BotCommand objects with descriptions from the locale's labels."""
    return [BotCommand(name, renderer.label(locale, f"cmd_{name}")) for name in names]


def _language_code(locale: str) -> str | None:
    """The language_code a locale's menu is published under (Indonesian: the fallback)."""
    return None if locale == "id" else locale


async def publish_command_menus(bot: Bot, db: Connection, renderer: Renderer) -> None:
    """Set the default menu, and the menu of each role account that has written to the bot."""
    for locale in LOCALES:
        await bot.set_my_commands(
            commands(renderer, locale, list(CITIZEN_COMMANDS)),
            scope=BotCommandScopeDefault(),
            language_code=_language_code(locale),
        )
    for user in await list_users_with_chats(db):
        await publish_role_menu(bot, user, renderer, await get_locale(db, user.telegram_id))


async def publish_chat_menu(
    bot: Bot, chat_id: int, role: str | None, locale: str, renderer: Renderer
) -> None:
    """Give one chat its own menu in its language, whatever the language of the person's app:
    the role's commands first (if any), then the citizens' ones."""
    names = [*(commands_for_role(role) if role else ()), *CITIZEN_COMMANDS]
    for other in LOCALES:
        await bot.set_my_commands(
            commands(renderer, locale, names),
            scope=BotCommandScopeChat(chat_id),
            language_code=_language_code(other),
        )


async def publish_role_menu(
    bot: Bot, user: RoleUser, renderer: Renderer, locale: str | None = None
) -> None:
    """Give one role account its menu: in the chat's language when known, else in each."""
    if locale is not None:
        await publish_chat_menu(bot, user.telegram_id, user.role, locale, renderer)
        return
    names = [*commands_for_role(user.role), *CITIZEN_COMMANDS]
    for each in LOCALES:
        await bot.set_my_commands(
            commands(renderer, each, names),
            scope=BotCommandScopeChat(user.telegram_id),
            language_code=_language_code(each),
        )


async def reset_role_menu(
    bot: Bot, telegram_id: int, renderer: Renderer | None = None, locale: str | None = None
) -> None:
    """The account has lost its role: drop its chat's own menu, so the citizens' one applies;
    a chat that chose another language than the default keeps the citizens' menu in it."""
    if renderer is not None and locale is not None and locale != LOCALES[0]:
        await publish_chat_menu(bot, telegram_id, None, locale, renderer)
        return
    for each in LOCALES:
        await bot.delete_my_commands(
            scope=BotCommandScopeChat(telegram_id), language_code=_language_code(each)
        )
