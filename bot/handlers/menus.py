"""The command menus: citizens' commands for everyone, role commands only in role chats."""

from __future__ import annotations

import aiosqlite
from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.domain import RoleUser
from bot.rendering import LOCALES, Renderer
from bot.services.directory import list_users_with_chats
from bot.services.roles import commands_for_role

CITIZEN_COMMANDS = (
    "start",
    "cek",
    "antre",
    "jadwal",
    "lapor",
    "laporan",
    "pengingat",
    "lokasi",
    "bantuan",
    "bahasa",
    "batal",
    "hapus_data",
)


def commands(renderer: Renderer, locale: str, names: list[str]) -> list[BotCommand]:
    """BotCommand objects with descriptions from the locale's labels."""
    return [BotCommand(name, renderer.label(locale, f"cmd_{name}")) for name in names]


async def publish_command_menus(bot: Bot, db: aiosqlite.Connection, renderer: Renderer) -> None:
    """Set the default menu, and the menu of each role account that has written to the bot."""
    for locale in LOCALES:
        language = None if locale == "id" else locale
        names = list(CITIZEN_COMMANDS)
        await bot.set_my_commands(
            commands(renderer, locale, names),
            scope=BotCommandScopeDefault(),
            language_code=language,
        )
    for user in await list_users_with_chats(db):
        await publish_role_menu(bot, user, renderer)


async def publish_role_menu(bot: Bot, user: RoleUser, renderer: Renderer) -> None:
    """Give one role account its menu: role commands first, then the citizens' ones."""
    names = [*commands_for_role(user.role), *CITIZEN_COMMANDS]
    for locale in LOCALES:
        language = None if locale == "id" else locale
        await bot.set_my_commands(
            commands(renderer, locale, names),
            scope=BotCommandScopeChat(user.telegram_id),
            language_code=language,
        )


async def reset_role_menu(bot: Bot, telegram_id: int) -> None:
    """The account has lost its role: drop its chat's own menu, so the citizens' one applies."""
    for locale in LOCALES:
        language = None if locale == "id" else locale
        await bot.delete_my_commands(scope=BotCommandScopeChat(telegram_id), language_code=language)
