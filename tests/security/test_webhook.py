"""Webhook mode: only requests carrying Telegram's secret token header reach the bot, bodies over
1 MB are refused unread, and the default secret is derived from the stretched SECRET_KEY."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import io
import json
import socket
from dataclasses import replace

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.crypto import Vault
from bot.webhook import MAX_BODY, SECRET_HEADER, serve_webhook, webhook_app
from tests.conftest import TOKEN

KEY_ONE, KEY_TWO = "one-" + "1" * 40, "two-" + "2" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_secret_is_derived_from_secret_key_unless_given(tmp_path):
    base = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_PATH": str(tmp_path / "x.sqlite3"),
        "WEBHOOK_URL": "https://bot.example/hook",
    }
    one = Settings.from_env({**base, "SECRET_KEY": KEY_ONE}).webhook_secret
    two = Settings.from_env({**base, "SECRET_KEY": KEY_TWO}).webhook_secret
    assert one != two
    assert len(one) == 64
    given = Settings.from_env({**base, "SECRET_KEY": KEY_ONE, "WEBHOOK_SECRET": "abc_DEF-1"})
    assert given.webhook_secret == "abc_DEF-1"
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        Settings.from_env({**base, "SECRET_KEY": KEY_ONE, "WEBHOOK_SECRET": "no spaces"})


def test_the_derived_secret_costs_a_guesser_the_key_stretching(tmp_path):
    """Before: HMAC-SHA256(SECRET_KEY, "telegram-webhook"), one cheap hash per guessed key. Now
    HKDF of the scrypt-stretched key: no cheap function of the key gives it."""
    env = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_PATH": str(tmp_path / "x.sqlite3"),
        "WEBHOOK_URL": "https://bot.example/hook",
        "SECRET_KEY": KEY_ONE,
    }
    secret = Settings.from_env(env).webhook_secret
    cheap = [hmac.new(KEY_ONE.encode(), b"telegram-webhook", hashlib.sha256).hexdigest()]
    cheap += [
        hashlib.sha256(KEY_ONE.encode() + info).hexdigest() for info in (b"", b"telegram-webhook")
    ]
    assert secret not in cheap
    stretched = Vault.from_secret(KEY_ONE).ref_key
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"dukcapil-bot/telegram-webhook"
    )
    assert secret == hkdf.derive(stretched).hex()


@pytest.mark.parametrize("short", ["t", "test-secret", "x" * 31])
def test_a_short_secret_key_is_refused_with_a_clear_message(tmp_path, short):
    env = {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "x.sqlite3"), "SECRET_KEY": short}
    with pytest.raises(ConfigError, match=r"SECRET_KEY is too short .* at least 32 random"):
        Settings.from_env(env)
    (tmp_path / "secret.key").write_text(short + "\n")  # also a short key in the key file
    with pytest.raises(ConfigError, match="SECRET_KEY is too short"):
        Settings.from_env({"DATABASE_PATH": str(tmp_path / "x.sqlite3")}, require_token=False)
    assert Settings.from_env(env, weak_key_ok=True).secret_key == short  # rotate-key replaces it


@pytest.fixture
def webhook_settings(settings):
    return replace(
        settings,
        webhook_url="https://bot.example/hook",
        webhook_listen="127.0.0.1",
        webhook_port=free_port(),
        webhook_secret="the-secret_token-1",
    )


@pytest.fixture
async def webhook(webhook_settings, population, clock):
    """The bot served on a webhook (bot/webhook.py) until the test ends."""
    app = build_application(webhook_settings, clock=clock)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_webhook(app, webhook_settings, stop))
    url = f"http://127.0.0.1:{webhook_settings.webhook_port}/hook"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):  # until it listens
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.post(url, data=b"{}"):
                    break
            await asyncio.sleep(0.05)
    try:
        yield url
    finally:
        stop.set()
        await serving


async def raw_status(host: str, port: int, rest: str) -> bytes:
    """The status code of a POST written by hand (`rest`: the headers after Host, and after)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"POST /hook HTTP/1.1\r\nHost: {host}\r\n{rest}".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout=2)
        return status.split()[1]
    finally:
        writer.close()
        await writer.wait_closed()


def start_update(citizen_id: int, update_id: int = 1) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "text": "/start",
            "chat": {"id": citizen_id, "type": "private"},
            "from": {"id": citizen_id, "is_bot": False, "first_name": "Warga"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_a_webhook_request_without_the_secret_token_is_refused(
    webhook, webhook_settings, botapi
):
    citizen = botapi.user(7701)
    assert botapi.sim.webhook is not None
    assert botapi.sim.webhook["url"] == "https://bot.example/hook"
    assert botapi.sim.webhook["secret_token"] == webhook_settings.webhook_secret
    body = json.dumps(start_update(citizen.id))
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        async with http.post(webhook, data=body, headers=headers) as response:
            assert response.status == 403
        for guess in ("guess", webhook_settings.webhook_secret[:-1], "\u00e9t\u00e9"):
            forged = {**headers, SECRET_HEADER: guess}
            async with http.post(webhook, data=body, headers=forged) as response:
                assert response.status == 403
        await citizen.no_message(within=0.3)
        real = {**headers, SECRET_HEADER: webhook_settings.webhook_secret}
        async with http.post(webhook, data=body, headers=real) as response:
            assert response.status == 200
        assert (await citizen.next_message()).buttons  # the welcome menu


def test_the_secret_token_is_compared_in_constant_time():
    """PTB's handler compared with `!=`, whose time grows with the length of the right prefix;
    ours goes through hmac.compare_digest (read from the code: timing it would be flaky)."""
    source = inspect.getsource(webhook_app)
    assert "hmac.compare_digest(" in source
    assert "!= expected" not in source
    assert "== expected" not in source


async def test_a_body_over_a_megabyte_is_refused_before_it_is_read(
    webhook, webhook_settings, botapi
):
    citizen = botapi.user(7702)
    real = {"Content-Type": "application/json", SECRET_HEADER: webhook_settings.webhook_secret}
    host, port = "127.0.0.1", webhook_settings.webhook_port
    head = "".join(f"{k}: {v}\r\n" for k, v in real.items())
    huge = f"Content-Length: {50 * 2**20}\r\n\r\n"  # announced, none of it sent
    assert await raw_status(host, port, head + huge) == b"413"  # answered at once, nothing read
    chunked = "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"  # its size known only once read
    assert await raw_status(host, port, head + chunked) == b"411"
    async with aiohttp.ClientSession() as http:
        big = json.dumps({**start_update(citizen.id), "padding": "x" * (MAX_BODY + 1)})
        async with http.post(webhook, data=io.BytesIO(big.encode()), headers=real) as response:
            assert response.status == 413
        await citizen.no_message(within=0.3)
        ok = json.dumps(start_update(citizen.id, 3))
        async with http.post(webhook, data=ok, headers=real) as response:
            assert response.status == 200
        assert (await citizen.next_message()).buttons
