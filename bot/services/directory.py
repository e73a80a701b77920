"""Look-ups the handlers need, so they never reach into storage: residents, service points,
a chat's language and the role accounts."""

from __future__ import annotations

from datetime import datetime

from bot.db import transaction
from bot.engine import Connection
from bot.storage import chats
from bot.storage.chats import get_locale
from bot.storage.residents import get_resident
from bot.storage.service_points import get_service_point, list_service_points
from bot.storage.users import get_user, list_users_with_chats

__all__ = [
    "get_locale",
    "get_resident",
    "get_service_point",
    "get_user",
    "list_service_points",
    "list_users_with_chats",
    "note_chat",
    "remember_language",
]


async def remember_language(db: Connection, chat_id: int, locale: str, *, now: datetime) -> None:
    """Keep the chat's chosen language."""
    async with transaction(db):
        await chats.set_locale(db, chat_id, locale, now=now)


async def note_chat(db: Connection, chat_id: int, *, locale: str, now: datetime) -> None:
    """Remember that this chat has written to the bot (so its command menu can be set)."""
    async with transaction(db):
        await chats.ensure_chat(db, chat_id, locale=locale, now=now)
