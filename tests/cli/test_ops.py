"""`dukcapil-bot run` serves /healthz, /readyz and /metrics on OPS_LISTEN, and logs JSON lines
with LOG_FORMAT=json (issue 17, "Health and metrics"): the real process against the local Bot
API server, as tests/cli/test_run.py starts it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.config import TIMEZONE
from bot.services.schedule import is_holiday
from tests.conftest import ADMIN_ID, SECRET_KEY, TOKEN

CITIZEN_ID = 6001
READ_TIMEOUT = 30.0  # seconds a step may take on a loaded machine before the test fails
LOOK_EVERY = 0.2  # seconds between two looks at an endpoint whose answer is to change


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningBot:
    """A `dukcapil-bot run` subprocess, its ops endpoints and its JSON log lines."""

    process: asyncio.subprocess.Process
    base: str
    env: dict[str, str]
    lines: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def read_log(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            text = raw.decode()
            self.raw.append(text)
            self.lines.append(json.loads(text))  # every line is one JSON object
            self._arrived.set()

    async def logged(self, message: str, **fields: Any) -> dict[str, Any]:
        """The first log line with this message (and these fields), once it is written."""
        wanted = {"message": message, **fields}
        async with asyncio.timeout(READ_TIMEOUT):
            while True:
                found = [
                    line
                    for line in self.lines
                    if all(line.get(key) == value for key, value in wanted.items())
                ]
                if found:
                    return found[0]
                self._arrived.clear()
                await self._arrived.wait()

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(self.base + path) as response:
            return response.status, await response.text()

    async def until(self, path: str, status: int) -> str:
        """Look at the endpoint until it answers `status`; its body."""
        async with asyncio.timeout(READ_TIMEOUT):
            while (answer := await self.get(path))[0] != status:  # noqa: ASYNC110 (another
                await asyncio.sleep(LOOK_EVERY)  # process's state: nothing here to await)
        return answer[1]

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """/metrics parsed by prometheus-client: (sample name, labels) -> value."""
        status, text = await self.get("/metrics")
        assert status == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    async def until_metric(
        self, name: str, labels: dict[str, str], holds: Callable[[float], bool]
    ) -> float:
        """Scrape until the sample exists and its value `holds`; the value."""
        key = (name, tuple(sorted(labels.items())))
        async with asyncio.timeout(READ_TIMEOUT):
            while (value := (await self.metrics()).get(key)) is None or not holds(value):  # noqa: ASYNC110
                await asyncio.sleep(LOOK_EVERY)
        return value


def bot_env(botapi, tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": botapi.base_url,
        "DATABASE_PATH": str(tmp_path / "run.sqlite3"),
        "SECRET_KEY": SECRET_KEY,
        "OPS_LISTEN": f"127.0.0.1:{port}",
        "OPS_TELEGRAM_GRACE_SECONDS": "1",
        "LOG_FORMAT": "json",
        "QUIET_HOURS": "off",
    }


@asynccontextmanager
async def running(botapi, tmp_path: Path, scan_process_output) -> AsyncIterator[RunningBot]:
    port = free_port()
    env = bot_env(botapi, tmp_path, port)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    bot = RunningBot(process, f"http://127.0.0.1:{port}", env)
    reader = asyncio.create_task(bot.read_log())
    try:
        await bot.logged("Application started")  # PTB's line once polling and handling run
        yield bot
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=READ_TIMEOUT)
        await reader
        scan_process_output("".join(bot.raw), "stderr of dukcapil-bot run")
    assert process.returncode == 0, "".join(bot.raw[-20:])
    assert TOKEN not in "".join(bot.raw)


async def cli(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=Path(env["DATABASE_PATH"]).parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=READ_TIMEOUT)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_health_and_readiness_follow_the_bot_api_server(
    botapi, tmp_path, scan_process_output
):
    citizen = botapi.user(CITIZEN_ID)
    async with running(botapi, tmp_path, scan_process_output) as bot:
        assert await bot.get("/healthz") == (200, "alive\n")
        assert await bot.get("/readyz") == (200, "ready\n")

        botapi.faults.down()
        citizen.send_text("/start")  # answers the long poll in hand; the reply cannot go out
        reason = await bot.until("/readyz", 503)
        assert reason.startswith("Telegram has not answered for ")
        assert reason.count("\n") == 1  # one line
        assert await bot.get("/healthz") == (200, "alive\n")  # alive all the same

        botapi.faults.up()
        assert await bot.until("/readyz", 200) == "ready\n"

    # The reply that could not go: logged under the update and the handler that failed.
    failed = await bot.logged("unhandled error (NetworkError)", handler="start.start")
    assert failed["level"] == "ERROR"
    assert failed["logger"] == "bot.handlers.errors"
    assert isinstance(failed["update_id"], int)
    assert "NetworkError" in failed["exception"]
    assert {"time", "level", "logger", "message", "update_id", "handler"} <= set(bot.lines[0])


def last_weekday(today: date) -> date:
    """The last working day before today: its digest, planned now, is due at once."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5 or is_holiday(day):
        day -= timedelta(days=1)
    return day


async def test_metrics_move_when_messages_are_sent_and_a_job_runs(
    botapi, tmp_path, scan_process_output
):
    citizen, admin = botapi.user(CITIZEN_ID), botapi.user(ADMIN_ID)
    env = {**bot_env(botapi, tmp_path, 0), "OPS_LISTEN": "off"}
    await cli(env, "add-user", "--telegram-id", str(ADMIN_ID), "--role", "admin")
    async with running(botapi, tmp_path, scan_process_output) as bot:
        before = await bot.metrics()
        sent = (
            "dukcapil_telegram_requests_total",
            (("method", "sendMessage"), ("outcome", "sent")),
        )
        assert before.get(sent, 0) == 0
        assert ("dukcapil_database_bytes", ()) in before

        citizen.send_text("/start")
        await citizen.next_message(timeout=READ_TIMEOUT)
        await bot.until_metric(
            "dukcapil_updates_handled_total", {"handler": "start.start", "outcome": "ok"}, bool
        )
        await bot.until_metric(
            "dukcapil_telegram_requests_total", {"method": "sendMessage", "outcome": "sent"}, bool
        )
        handled = await bot.metrics()
        count = ("dukcapil_update_handling_seconds_count", (("handler", "start.start"),))
        assert handled[count] == 1

        # The daily digest planned by another process, delivered by the running bot's sender.
        day = last_weekday(datetime.now(TIMEZONE).date())
        printed = await cli(env, "run-job", "daily-digest", "--date", day.isoformat())
        assert "the running bot delivers them" in printed
        await admin.next_message(timeout=READ_TIMEOUT)
        await bot.until_metric(
            "dukcapil_outbox_messages", {"kind": "staff", "state": "sent"}, lambda v: v == 1
        )
        after = await bot.metrics()

    digest_ran = ("dukcapil_job_last_success_timestamp_seconds", (("job", "daily-digest"),))
    assert after[digest_ran] > 0
    assert after[("dukcapil_job_failures_total", (("job", "daily-digest"),))] == 0
    assert after[sent] >= 2  # the welcome and the digest
    assert after[("dukcapil_outbox_due", ())] == 0
    assert_no_personal_label(after, ids=(CITIZEN_ID, ADMIN_ID), names=("Test",))


LABEL_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_.:@+\-]*|[0-9.]+|\+Inf")


def assert_no_personal_label(samples, *, ids, names) -> None:
    """Label values are code words (handlers, methods, states, jobs) or bucket bounds: never a
    chat id, a name or a 16-digit number."""
    for name, labels in samples:
        for label, value in labels:
            assert LABEL_VALUE.fullmatch(value), (name, label, value)
            assert not re.search(r"[0-9]{6,}", value), (name, label, value)
            assert value not in {str(i) for i in ids} | set(names), (name, label, value)
