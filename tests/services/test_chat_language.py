"""A chat's language on either engine: noted once, changed only when chosen
(bot/services/directory.py, bot/storage/chats.py)."""

from __future__ import annotations

from bot.services.directory import get_locale, note_chat, remember_language
from tests.conftest import NOW

BIG_CHAT = -1001234567890  # a supergroup's id: beyond 32 bits


async def test_a_noted_chat_keeps_the_language_it_chose(engine_db):
    assert await get_locale(engine_db, BIG_CHAT) is None
    await note_chat(engine_db, BIG_CHAT, locale="id", now=NOW)
    await remember_language(engine_db, BIG_CHAT, "en", now=NOW)
    await note_chat(engine_db, BIG_CHAT, locale="id", now=NOW)
    assert await get_locale(engine_db, BIG_CHAT) == "en"
