"""A transaction on the bot's connection waits out a job's open read instead of failing."""

from __future__ import annotations

import asyncio

from bot import db as dbmod
from tests.conftest import SECRET_KEY


async def test_write_waits_for_a_read_that_holds_an_old_snapshot(tmp_path):
    path = tmp_path / "shared.sqlite3"
    bot_conn, other_process = (
        await dbmod.connect(path, SECRET_KEY),
        await dbmod.connect(path, SECRET_KEY),
    )
    try:
        await bot_conn.execute("CREATE TABLE t (x INTEGER)")
        await bot_conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(500)])
        reading, read = asyncio.Event(), []

        async def job() -> None:  # a planner reading rows in chunks, yielding between them
            async with bot_conn.execute("SELECT x FROM t WHERE x >= 0") as cursor:
                async for (x,) in cursor:
                    read.append(x)
                    if len(read) == 100:
                        reading.set()
                    await asyncio.sleep(0)

        task = asyncio.create_task(job())
        await reading.wait()
        async with dbmod.transaction(other_process):  # run-job commits meanwhile
            await other_process.execute("INSERT INTO t VALUES (-1)")
        async with dbmod.transaction(bot_conn):  # a handler's write, mid-read
            await bot_conn.execute("INSERT INTO t VALUES (-2)")
        await task
        async with bot_conn.execute("SELECT count(*) FROM t WHERE x < 0") as cursor:
            assert await cursor.fetchone() == (2,)
        assert len(read) == 500
    finally:
        await bot_conn.close()
        await other_process.close()
