"""Real `dukcapil-bot run` workers on one PostgreSQL database, talking to the local Bot API
server of the test (tests/conftest.py's `botapi`): started, killed and stopped by the tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import SECRET_KEY, TOKEN

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Workers:
    """The workers of one test: each in its own process group, its output in its own log."""

    bot_api_url: str
    database_url: str
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    running: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self, **env: str) -> int:
        """Start one more worker (`env`: its own settings); return its number."""
        number = len(list(self.folder.glob("worker-*.log"))) + 1
        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": self.bot_api_url,
            "DATABASE_URL": self.database_url,
            "DATABASE_PATH": str(self.folder / "unused.sqlite3"),
            "SECRET_KEY": SECRET_KEY,
            "QUIET_HOURS": "off",
            "OPS_LISTEN": "off",
            **self.env,
            **env,
        }
        log = self.folder / f"worker-{number}.log"
        with log.open("ab") as out:
            self.running[number] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        return number

    async def kill(self, number: int) -> None:
        """SIGKILL the worker (its whole process group)."""
        process = self.running.pop(number)
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()

    async def stop_all(self) -> list[int]:
        """SIGTERM every running worker, wait for each; return their exit codes."""
        processes = list(self.running.values())
        self.running.clear()
        for process in processes:
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGTERM)
        codes = []
        for process in processes:
            try:
                codes.append(await asyncio.wait_for(process.wait(), 30))
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                codes.append(await process.wait())
        return codes

    async def ready(self, number: int) -> None:
        """Wait until the worker has started (its log says so)."""

        async def started() -> bool:
            return "bot ready as" in self.log_of(number)

        await until(started, within=60, what=f"worker {number} to start", workers=self)

    def logs(self) -> str:
        """The end of every worker's log, for a failure message."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}"
            for log in sorted(self.folder.glob("worker-*.log"))
        )

    def log_of(self, number: int) -> str:
        return (self.folder / f"worker-{number}.log").read_text(errors="replace")


async def until(
    condition: Callable[[], Awaitable[bool]],
    *,
    within: float,
    what: str,
    workers: Workers,
    every: float = 0.1,
) -> None:
    """Poll `condition` every `every` seconds until true; fail with the workers' logs after
    `within` seconds."""
    try:
        async with asyncio.timeout(within):
            # other processes write what we wait for: there is no event to wait on
            while not await condition():  # noqa: ASYNC110
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}; logs:\n{workers.logs()}") from None


def busiest_second(moments: list[float]) -> int:
    """The most moments within any one second (as the Bot API server counts what it receives)."""
    moments = sorted(moments)
    start, most = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def received_moments(botapi) -> list[float]:
    """When the server accepted each message it was sent, every chat's together."""
    return [moment for chat in botapi.received.values() for moment in chat]
