"""The restore drill, as the office would run it: back up while `dukcapil-bot run` serves and
writes, restore the copy into a new place, start the bot there, and it answers as before."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from asyncio.subprocess import PIPE, Process
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import ADMIN_ID, OFFICIAL_ID, PEOPLE, STAFF_ID, TOKEN

WAIT = 30  # seconds for an answer from a bot process on a busy machine


def bot_env(settings, database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": settings.bot_api_url,
        "DATABASE_PATH": str(database),
        "SECRET_KEY": settings.secret_key,
        "SEND_RATE": "0",
    }


async def command(env: dict[str, str], *args: str) -> tuple[int | None, str]:
    """Run one `dukcapil-bot` command to its end; its exit code and output."""
    process = await start(env, *args)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, (out + err).decode()


async def start(env: dict[str, str], *args: str) -> Process:
    cwd = Path(env["DATABASE_PATH"]).parent  # no stray .env; BACKUP_DIR lands beside the data
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd, stdout=PIPE, stderr=PIPE
    )


@asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[None]:
    """`dukcapil-bot run` until the block ends, then stopped as systemd stops it (SIGTERM)."""
    process = await start(env, "run")
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()


async def answer(user, text: str):
    user.send_text(text)
    return await user.next_message(timeout=WAIT)


async def press(user, message, prefix: str):
    user.press(message, next(data for _, data in message.buttons if data.startswith(prefix)))
    return await user.next_message(timeout=WAIT)


async def book_a_visit(user, person) -> None:
    """/cek, then /antre to the end: the first day and slot offered at Kanigoro."""
    await answer(user, f"/cek {person.nik} {person.kk}")
    services = await answer(user, "/antre")
    people = await press(user, services, "bk:svc:rekam")
    points = await press(user, people, "bk:who:0")
    calendar = await press(user, points, "bk:pt:kanigoro")
    slots = await press(user, calendar, "bk:day:")
    summary = await press(user, slots, "bk:slot:")
    confirmation = await press(user, summary, "bk:ok")
    assert "Antrean Anda tercatat" in confirmation.text
    for _ in range(2):  # the QR code and the map pin
        await user.next_message(timeout=WAIT)


async def what_the_citizen_sees(user, person) -> list[tuple[str | None, list]]:
    """The answers to /cek and /jadwal with their buttons (/cek's link buttons carry a token
    drawn afresh for every check: their labels are compared)."""
    check = await answer(user, f"/cek {person.nik} {person.kk}")
    bookings = await answer(user, "/jadwal")
    labels = [label for label, _ in check.buttons]
    return [(check.text, labels), (bookings.text, bookings.buttons)]


# The drill of SQLite's file backup; PostgreSQL's `backup`/`restore` (pg_dump, pg_restore):
# tests/services/test_pg_backup.py::test_backup_and_restore_with_database_url.
@pytest.mark.engines("sqlite")
async def test_backup_while_serving_then_restore_elsewhere_answers_as_before(
    botapi, settings, population, tmp_path
):
    for role_user in (STAFF_ID, OFFICIAL_ID, ADMIN_ID):
        botapi.user(role_user)  # they have opened a chat with the bot
    citizen, person = botapi.user(7001), PEOPLE["unrecorded"]
    writers = [botapi.user(7100 + n) for n in range(4)]
    copy = tmp_path / "copies" / "dukcapil-drill.sqlite3"
    office = bot_env(settings, settings.database_path)

    async with serving(office):
        await book_a_visit(citizen, person)
        before = await what_the_citizen_sees(citizen, person)
        assert "Rudi L." in before[1][0]  # the booking is listed

        backup = await start(office, "backup", str(copy))
        done = asyncio.create_task(backup.communicate())
        other, rounds = PEOPLE["recorded"], 0
        while not done.done() or rounds == 0:  # the bot answers (and writes) during the copy
            checks = [answer(w, f"/cek {other.nik} {other.kk}") for w in writers]
            assert all(other.nama in m.text for m in await asyncio.gather(*checks))
            rounds += 1
        out, err = await done
        assert backup.returncode == 0, err.decode()
        assert "integrity ok" in out.decode()

    (tmp_path / "new-server").mkdir(mode=0o700)
    new_server = bot_env(settings, tmp_path / "new-server" / "dukcapil.sqlite3")
    code, output = await command(new_server, "restore", str(copy))
    assert code == 0, output
    async with serving(new_server):
        after = await what_the_citizen_sees(citizen, person)
    assert after == before
