"""Several real `dukcapil-bot run` workers on one PostgreSQL database, polling the local Bot API
server: one polls at a time, every worker handles updates from the inbox, a chat's updates are
answered in order, a conversation begun on one worker goes on on another, and SIGKILL of the
polling worker loses nothing (a standby takes over; a message sent twice is one whose update
the killed worker had in hand)."""

from __future__ import annotations

import psycopg
import pytest

from tests.workers.harness import Workers, busiest_second, received_moments, until

USERS = 20
FIRST_USER = 8_100_000
ROUND = ("/start", "/bantuan", "/lokasi")
ANSWER = {
    "/start": "Selamat datang",
    "/bantuan": "Bantuan",
    "/lokasi": "Tempat layanan",
    "/cek": "Silakan ketik NIK",
    "123": "NIK harus 16 digit, yang Anda ketik 3 digit",
}


def collapsed(texts: list[str]) -> list[str]:
    """The answers with a message sent twice in a row counted once."""
    return [t for n, t in enumerate(texts) if n == 0 or texts[n - 1] != t]


def which(text: str) -> str:
    """The command an answer answers."""
    return next(cmd for cmd, start in ANSWER.items() if text.startswith(start))


async def held_by(database_url: str, pid: int) -> int:
    """Updates the worker of process `pid` had claimed and not finished."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM inbox WHERE claimed_by LIKE %s", (f"%:{pid}",)
        )
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.timeout(240)
async def test_one_polls_all_handle_and_a_killed_leader_loses_nothing(
    botapi, pg_migrated_url, tmp_path
):
    workers = Workers(botapi.base_url, pg_migrated_url, tmp_path, env={"SEND_RATE": "30"})
    for _ in range(3):
        await workers.start()
    users = [botapi.user(FIRST_USER + n) for n in range(USERS)]
    sent: dict[int, list[str]] = {u.id: [] for u in users}

    def send(text: str) -> None:
        for user in users:
            user.send_text(text)
            sent[user.id].append(text)

    async def answered() -> bool:
        return all(len(collapsed([m.text for m in u.inbox])) >= len(sent[u.id]) for u in users)

    try:
        for command in ROUND:
            send(command)
        send("/cek")  # a conversation begun: it waits for the NIK
        await until(answered, within=90, what="the first answers", workers=workers)
        polling = [n for n in workers.running if "this worker polls Telegram" in workers.log_of(n)]
        assert len(polling) == 1, workers.logs()
        leader = workers.running[polling[0]]

        send("123")  # the NIK step, on whichever worker takes the chat
        for command in ROUND:
            send(command)
        await workers.kill(polling[0])
        in_hand = await held_by(pg_migrated_url, leader.pid)  # its claims lapse after 8 s
        fourth = await workers.start()
        await until(answered, within=120, what="the answers after the kill", workers=workers)
        await workers.ready(fourth)  # a SIGTERM before its start-up ends is not a clean stop
    finally:
        codes = await workers.stop_all()

    assert codes == [0, 0, 0]
    others = [n for n in (1, 2, 3, 4) if n != polling[0]]
    assert any("polls Telegram now (taken over)" in workers.log_of(n) for n in others)
    doubled = 0
    for user in users:
        texts = [m.text for m in user.inbox]
        assert [which(t) for t in collapsed(texts)] == sent[user.id], "in order, none lost"
        doubled += len(texts) - len(collapsed(texts))
    assert doubled <= in_hand, "only answers to updates the killed worker had in hand twice"
    assert busiest_second(received_moments(botapi)) <= 30, "one sending budget for all the workers"
