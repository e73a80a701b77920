"""The bot's HTTP layers: sending and long polling both on aiohttp."""

from __future__ import annotations

from bot.app import build_application
from bot.http import AiohttpRequest


def test_sends_and_long_polls_on_aiohttp(settings):
    """httpx's per-request overhead made polling cost a third of the bot's CPU under 50 users
    checking at once (benchmarks/check_latency.py); the poll has one connection of its own."""
    app = build_application(settings)
    polling, sending = app.bot._request  # PTB keeps (getUpdates layer, every other call)
    assert isinstance(sending, AiohttpRequest)
    assert isinstance(polling, AiohttpRequest)
    assert polling is not sending
