"""/healthz's verdict on the real Application: alive while polling and the sender run."""

from __future__ import annotations

from bot.ops import not_alive


async def test_healthz_names_a_stopped_sender(running_bot):
    bot = running_bot
    settings = bot.bot_data["settings"]
    assert not_alive(bot, settings) is None
    sender = bot.bot_data["sender"]
    await sender.stop()
    assert not_alive(bot, settings) == "the outbox sender has stopped"
    sender.start(settings.database_path)
    assert not_alive(bot, settings) is None
