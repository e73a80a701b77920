"""Locks held for a worker's life (bot/leases.py) on the throwaway PostgreSQL: one worker polls
(or sends, or runs a job slot) at a time, and when it dies, even by SIGKILL, another takes over
at its next try."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, time
from types import SimpleNamespace

from bot import postgres
from bot.clock import FixedClock
from bot.jobs import run_slot
from bot.jobs.registry import JobSpec
from bot.leases import POLLING, SENDING, Leases
from bot.rendering import Renderer
from bot.storage import job_runs
from tests.conftest import SECRET_KEY

# A process that takes the polling lock, says so, and waits to be killed.
HOLDER = """
import asyncio, sys
from bot.leases import POLLING, Leases

async def main():
    leases = await Leases.open(sys.argv[1])
    assert await leases.try_hold(POLLING)
    print("held", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_one_worker_holds_a_lock_and_another_takes_over_when_it_is_killed(pg_url):
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, pg_url, stdout=asyncio.subprocess.PIPE
    )
    standby = await Leases.open(pg_url)
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 60) == b"held\n"
        assert not await standby.try_hold(POLLING)
        assert await standby.try_hold(SENDING)  # another lock is another matter

        waiting = asyncio.create_task(standby.hold(POLLING, what="polls", every=0.05))
        os.kill(holder.pid, signal.SIGKILL)
        await asyncio.wait_for(waiting, 30)  # the server ended the dead session's locks
        assert POLLING in standby.held
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()
        await standby.close()


async def test_a_lock_given_up_is_free_for_the_others(pg_url):
    first, second = await Leases.open(pg_url), await Leases.open(pg_url)
    try:
        assert await first.try_hold(SENDING)
        assert not await second.try_hold(SENDING)
        await first.close()  # a clean stop
        assert await second.try_hold(SENDING)
    finally:
        await second.close()


class Worker:
    """What run_slot asks of bot/workers.py's Worker."""

    def __init__(self, leases: Leases) -> None:
        self.leases = leases

    def job_slot(self, name):
        return self.leases.job_slot(name)


async def test_a_job_slot_runs_once_whatever_the_number_of_workers(pg_url, settings):
    workers = 3
    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 WIB
    runs: list[int] = []
    inside = asyncio.Event()
    finish = asyncio.Event()

    async def plan(run) -> int:
        runs.append(1)
        inside.set()
        await finish.wait()  # the others try while this one runs
        return 5

    spec = JobSpec("test-reminders", (time(8, 0),), plan)
    contexts = []
    for _ in range(workers):
        db = await postgres.connect(pg_url, SECRET_KEY)
        if not contexts:
            await postgres.migrate(db)
        leases = await Leases.open(pg_url)
        data = {
            "db": db,
            "settings": settings,
            "clock": FixedClock(now),
            "renderer": Renderer(),
            "worker": Worker(leases),
        }
        contexts.append(SimpleNamespace(bot_data=data))
    try:
        first = asyncio.create_task(run_slot(contexts[0], spec, time(8, 0)))
        await inside.wait()
        others = [run_slot(c, spec, time(8, 0)) for c in contexts[1:]]
        assert await asyncio.wait_for(asyncio.gather(*others), 30) == [0] * (workers - 1)
        finish.set()
        assert await first == 5
        # the catch-up of a worker that comes later finds the day done
        assert await run_slot(contexts[-1], spec, time(8, 0)) == 0
        assert len(runs) == 1
        db = contexts[0].bot_data["db"]
        assert await job_runs.last_day(db, spec.slot(time(8, 0))) == now.date()
    finally:
        for context in contexts:
            await context.bot_data["worker"].leases.close()
            await context.bot_data["db"].close()
