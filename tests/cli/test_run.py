"""`dukcapil-bot run` serves real users: a subprocess polling the local Bot API server."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from asyncio.subprocess import PIPE
from contextlib import closing

from tests.conftest import TOKEN


async def test_run_serves_the_bot_until_interrupted(botapi, tmp_path):
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": botapi.base_url,
        "DATABASE_PATH": str(tmp_path / "run.sqlite3"),
    }
    command = (sys.executable, "-m", "bot", "run")
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        user = botapi.user(6001)
        user.send_text("/start")
        welcome = await user.next_message(timeout=30)
        assert "Selamat datang" in welcome.text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert TOKEN not in log  # the token never reaches the log
    assert (tmp_path / "run.sqlite3").exists()
    assert (tmp_path / "secret.key").exists()


async def test_run_refuses_a_database_migrated_by_a_newer_version(botapi, tmp_path):
    database = tmp_path / "newer.sqlite3"
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": botapi.base_url,
        "DATABASE_PATH": str(database),
    }

    async def bot(*args: str) -> tuple[int | None, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, env=env, cwd=tmp_path, stderr=PIPE, stdout=PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        return process.returncode, stderr.decode()

    assert (await bot("migrate"))[0] == 0
    with closing(sqlite3.connect(database)) as conn, conn:  # what a later release would add
        conn.execute("CREATE TABLE from_the_future (x)")
        conn.execute(
            "INSERT INTO schema_migrations VALUES ('0999_from_the_future.sql', '2027-06-01')"
        )
    before = database.read_bytes()

    for command in ("run", "migrate"):
        code, log = await bot(command)
        assert code == 2, log
        assert "migrated by a newer version of the bot (0999_from_the_future.sql" in log
        assert "Traceback" not in log
    assert database.read_bytes() == before  # nothing applied, nothing sealed, nothing seeded
