"""Webhook mode: only requests carrying Telegram's secret token header reach the bot."""

from __future__ import annotations

import json
import socket

import aiohttp
import pytest

from bot.app import build_application
from bot.config import ConfigError, Settings
from tests.conftest import TOKEN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_secret_is_derived_from_secret_key_unless_given(tmp_path):
    base = {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "x.sqlite3")}
    one = Settings.from_env({**base, "SECRET_KEY": "one"}).webhook_secret
    two = Settings.from_env({**base, "SECRET_KEY": "two"}).webhook_secret
    assert one != two
    assert len(one) == 64
    given = Settings.from_env({**base, "SECRET_KEY": "one", "WEBHOOK_SECRET": "abc_DEF-1"})
    assert given.webhook_secret == "abc_DEF-1"
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        Settings.from_env({**base, "SECRET_KEY": "one", "WEBHOOK_SECRET": "no spaces"})


async def test_a_webhook_request_without_the_secret_token_is_refused(settings, population, botapi):
    citizen = botapi.user(7701)
    port = free_port()
    app = build_application(settings)
    await app.initialize()
    assert app.post_init is not None
    assert app.updater is not None
    await app.post_init(app)
    await app.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="hook",
        webhook_url="https://bot.example/hook", secret_token=settings.webhook_secret,
    )  # fmt: skip
    await app.start()
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1, "date": 0, "text": "/start",
            "chat": {"id": citizen.id, "type": "private"},
            "from": {"id": citizen.id, "is_bot": False, "first_name": "Warga"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }  # fmt: skip
    url = f"http://127.0.0.1:{port}/hook"
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Content-Type": "application/json"}
            async with http.post(url, data=json.dumps(update), headers=headers) as response:
                assert response.status == 403
            forged = {**headers, "X-Telegram-Bot-Api-Secret-Token": "guess"}
            async with http.post(url, data=json.dumps(update), headers=forged) as response:
                assert response.status == 403
            await citizen.no_message(within=0.3)
            real = {**headers, "X-Telegram-Bot-Api-Secret-Token": settings.webhook_secret}
            async with http.post(url, data=json.dumps(update), headers=real) as response:
                assert response.status == 200
            assert (await citizen.next_message()).buttons  # the welcome menu
    finally:
        await app.updater.stop()
        await app.stop()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()
