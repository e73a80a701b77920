"""`dukcapil-bot run` serves real users: a subprocess polling the local Bot API server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

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
