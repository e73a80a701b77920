"""Several workers in webhook mode on one PostgreSQL database: the test plays the load balancer,
sending a chat's updates to the workers in turn (and some twice, as Telegram re-delivers).
Each update is answered once, a chat's in the order of their update_ids, and a conversation
begun on one worker goes on on the other."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from bot.crypto import webhook_secret
from bot.webhook import SECRET_HEADER
from botapi.server import Simulation
from tests.conftest import SECRET_KEY
from tests.workers.harness import Workers, until

USERS = 15
FIRST_USER = 8_200_000
STEPS = ("/cek", "123", "12345", "/bantuan")
ANSWER = (
    "Silakan ketik NIK",
    "NIK harus 16 digit, yang Anda ketik 3 digit",
    "NIK harus 16 digit, yang Anda ketik 5 digit",
    "Bantuan",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def updates_made() -> Iterator[list[dict[str, Any]]]:
    """The updates the simulated users make, as Telegram would POST them."""
    made: list[dict[str, Any]] = []

    def watch(event: str, _kind: str, update: Any) -> None:
        if event == "update":
            made.append(update)

    Simulation.watchers.append(watch)
    try:
        yield made
    finally:
        Simulation.watchers.remove(watch)


@pytest.mark.timeout(180)
async def test_webhook_workers_answer_each_update_once_in_order(botapi, pg_migrated_url, tmp_path):
    ports = [free_port(), free_port()]
    webhook = {"SEND_RATE": "30", "WEBHOOK_URL": "https://bot.example.go.id/telegram"}
    workers = Workers(botapi.base_url, pg_migrated_url, tmp_path, env=webhook)
    for port in ports:
        await workers.start(WEBHOOK_PORT=str(port))
    users = [botapi.user(FIRST_USER + n) for n in range(USERS)]
    headers = {SECRET_HEADER: webhook_secret(SECRET_KEY)}

    async def served() -> bool:
        return all("webhook served" in workers.log_of(n) for n in (1, 2))

    async def deliver(session: aiohttp.ClientSession, port: int, update: Any) -> None:
        url = f"http://127.0.0.1:{port}/telegram"
        async with session.post(url, json=update, headers=headers) as response:
            assert response.status == 200

    async def talk(session: aiohttp.ClientSession, user: Any, number: int) -> None:
        for step, text in enumerate(STEPS):
            with updates_made() as made:
                user.send_text(text)
            port = ports[(number + step) % 2]  # the balancer sends each to the next worker
            await deliver(session, port, made[0])
            if step % 2:  # Telegram delivers it again, to the other worker
                await deliver(session, ports[(number + step + 1) % 2], made[0])

    async def answered() -> bool:
        return all(len(user.inbox) >= len(STEPS) for user in users)

    try:
        await until(served, within=60, what="the webhooks", workers=workers)
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(talk(session, u, n) for n, u in enumerate(users)))
        await until(answered, within=90, what="the answers", workers=workers)
    finally:
        codes = await workers.stop_all()

    assert codes == [0, 0]
    for user in users:
        texts = [message.text for message in user.inbox]
        assert len(texts) == len(STEPS), f"each update answered once: {texts}"
        for text, start in zip(texts, ANSWER, strict=True):
            assert text.startswith(start), texts
