"""`bot.db.transaction` on the one shared connection: a task cancelled while its BEGIN is on the
way (the outbox sender stopped as it started) leaves no transaction open behind it: the statement
runs in aiosqlite's thread whatever happens to the task awaiting it."""

from __future__ import annotations

import asyncio

import pytest

from bot.db import transaction


async def _write(db, value: int, started: asyncio.Event | None = None) -> None:
    async with transaction(db):
        if started is not None:
            started.set()
            await asyncio.sleep(3600)  # cancelled here, inside the transaction
        await db.execute("INSERT INTO kv (v) VALUES (?)", (value,))


@pytest.fixture
async def kv(db):
    await db.execute("CREATE TABLE kv (v INTEGER)")
    return db


async def _cancelled(task: asyncio.Task) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("turns", [1, 2, 3])
async def test_a_task_cancelled_during_begin_leaves_no_transaction_open(kv, turns):
    task = asyncio.create_task(_write(kv, 1))
    for _ in range(turns):  # the task has handed BEGIN to the connection's thread
        await asyncio.sleep(0)
    await _cancelled(task)
    async with transaction(kv):  # the next one begins: no "transaction within a transaction"
        await kv.execute("INSERT INTO kv (v) VALUES (2)")
    assert not kv.in_transaction
    assert [tuple(r) for r in await kv.execute_fetchall("SELECT v FROM kv")] in (
        [(2,)],
        [(1,), (2,)],
    )


async def test_a_task_cancelled_inside_rolls_back(kv):
    started = asyncio.Event()
    task = asyncio.create_task(_write(kv, 1, started))
    await started.wait()
    await _cancelled(task)
    assert not kv.in_transaction
    async with transaction(kv):
        await kv.execute("INSERT INTO kv (v) VALUES (2)")
    assert [tuple(r) for r in await kv.execute_fetchall("SELECT v FROM kv")] == [(2,)]
