"""A burst of /cek, not in line.

bot/inline_sqlite.py: an update's short statements run on the event loop's thread (no hand-over
to the connection's thread per statement); a long read, a locked file and everything outside an
update still take the connection's thread. And start-up's objects are frozen out of the garbage
collector's full collections."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
import threading

import pytest

from bot import db as dbmod
from bot import inline_sqlite
from bot.db import transaction
from bot.inline_sqlite import statements_inline
from tests.conftest import PEOPLE, SECRET_KEY, serve

LONG_READ = (  # a SELECT of some 100,000 steps of SQLite's machine, whatever its speed
    "SELECT (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000)"
    " SELECT count(*) FROM n)"
)


class Threads:
    """The thread each traced statement ran on."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, statement: str) -> None:
        self.seen.append((threading.current_thread().name, statement))

    def of(self, prefix: str) -> list[str]:
        return [thread for thread, statement in self.seen if statement.startswith(prefix)]


@pytest.fixture
async def traced(db):
    threads = Threads()
    await db.set_trace_callback(threads)
    await db.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)")
    return db, threads


LOOP = threading.main_thread().name


@pytest.mark.engines("sqlite")  # a connection of the bot's own on PostgreSQL: no thread
async def test_a_check_runs_its_statements_on_the_loops_thread(running_bot, botapi):
    person = PEOPLE["recorded"]
    user = botapi.user(1500)
    user.send_text("/start")  # after start-up's own work (menus, the sender's first sweep)
    await user.next_message()
    await _settled(running_bot, botapi.sim.last_update_id)
    threads = Threads()
    await running_bot.bot_data["db"].set_trace_callback(threads)
    user.send_text(f"/cek {person.nik} {person.kk}")
    assert "sudah rekam e-KTP" in (await user.next_message()).text
    await running_bot.bot_data["db"].set_trace_callback(None)
    # the check's reads and writes (the bot's jobs and its outbox sender take the thread)
    ours = ("residents", "check_attempts", "processed_updates", "conversations", "chats")
    ran = [thread for thread, statement in threads.seen if any(t in statement for t in ours)]
    assert len(ran) >= 6  # the update's mark, its conversations, the gate, the resident, ...
    # each one that found the thread idle; a job's statement under way there may delay one
    assert ran.count(LOOP) >= len(ran) - 2


async def _settled(app, update_id: int) -> None:
    """Wait until the jobs under way are over and update `update_id`'s turn has ended.

    Start-up's catch-up (a job: it takes the connection's thread) may still be reading the job
    slots after the first answer, and an update's turn ends after its answer, when it is recorded
    as handled; a statement of either on the thread sends the next update's statements there
    too, which this test would count against the loop's thread."""
    for _ in range(500):
        jobs = [t for t in asyncio.all_tasks() if t.get_coro().__name__ == "run_coroutine_job"]
        await asyncio.gather(*jobs)  # APScheduler's tasks, PTB's JobQueue's jobs among them
        rows = await app.bot_data["db"].execute_fetchall(
            "SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,)
        )
        if rows:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"update {update_id} was never recorded as handled")


async def test_outside_an_update_statements_take_the_connections_thread(traced):
    db, threads = traced
    await db.execute("INSERT INTO kv VALUES (1, 'a')")
    assert threads.of("INSERT") != [LOOP]
    assert threads.of("INSERT") == [threads.of("CREATE")[0]]


async def test_a_long_read_moves_to_the_connections_thread(traced):
    db, threads = traced
    db.inline_budget = 0.0  # any read longer than one look at the budget moves
    with statements_inline():
        assert [tuple(r) for r in await db.execute_fetchall(LONG_READ)] == [(20000,)]
        assert [tuple(r) for r in await db.execute_fetchall("SELECT 1")] == [(1,)]
    assert threads.of("SELECT (WITH") == [LOOP, threads.of("CREATE")[0]]  # stopped, run again
    assert threads.of("SELECT 1") == [LOOP]


async def test_inline_the_busy_timeout_is_zero_and_the_thread_keeps_its_own(traced):
    db, _ = traced
    with statements_inline():
        inline = await db.execute_fetchall("PRAGMA busy_timeout")
        checkpoints = await db.execute_fetchall("PRAGMA wal_autocheckpoint")
    assert [tuple(inline[0]), tuple(checkpoints[0])] == [(0,), (0,)]
    assert [tuple(r) for r in await db.execute_fetchall("PRAGMA busy_timeout")] == [
        (dbmod.BUSY_TIMEOUT_MS,)
    ]
    assert [tuple(r) for r in await db.execute_fetchall("PRAGMA wal_autocheckpoint")] == [(1000,)]


async def test_a_file_locked_by_another_process_is_waited_for_off_the_loop(traced, tmp_path):
    db, threads = traced
    other = await dbmod.connect(tmp_path / "test.sqlite3", SECRET_KEY)
    try:
        await other.execute("BEGIN IMMEDIATE")  # another process writes
        tried = asyncio.Event()
        loop = asyncio.get_running_loop()
        await db.set_trace_callback(
            lambda s: (threads(s), s.startswith("BEGIN") and loop.call_soon_threadsafe(tried.set))
        )

        async def write() -> None:
            with statements_inline():
                async with transaction(db):
                    await db.execute("INSERT INTO kv VALUES (2, 'b')")

        writing = asyncio.create_task(write())
        await tried.wait()  # the loop runs while the write waits for the lock
        assert not writing.done()
        await other.execute("COMMIT")
        await writing
    finally:
        await other.close()
    assert [tuple(r) for r in await db.execute_fetchall("SELECT k FROM kv")] == [(2,)]
    assert threads.of("BEGIN")[0] == LOOP  # tried at once, then waited for on the thread
    assert threads.of("BEGIN")[-1] == threads.of("CREATE")[0]


async def test_a_few_rows_at_once_run_inline_a_bulk_write_does_not(traced):
    db, threads = traced
    with statements_inline():
        await db.executemany("INSERT INTO kv VALUES (?, ?)", [(n, "x") for n in range(3)])
        await db.executemany("INSERT INTO kv VALUES (?, ?)", [(n, "y") for n in range(3, 503)])
    loops = [thread for thread, statement in threads.seen if statement.startswith("INSERT")]
    assert loops[:3] == [LOOP] * 3
    assert set(loops[3:]) == {threads.of("CREATE")[0]}
    assert len(await db.execute_fetchall("SELECT k FROM kv")) == 503


async def test_start_up_objects_are_out_of_the_collectors_sight(settings, clock, botapi):
    # a full collection walking every object start-up made paused a burst of /cek for 280 ms
    async with serve(settings, clock):
        assert gc.get_freeze_count() > 10_000  # PTB's, Jinja's, ours
    assert gc.get_freeze_count() == 0  # collectable again once the bot stops


@pytest.mark.parametrize("inline", [False, True])
async def test_a_write_whose_rows_are_fetched_later_holds_up_no_commit(traced, inline):
    # the outbox sender's UPDATE ... RETURNING, fetched by a second call: a COMMIT of another
    # task in between failed ("SQL statements in progress") and left its transaction open
    db, _ = traced
    await db.execute("INSERT INTO kv VALUES (1, 'a'), (2, 'b')")
    async with db.execute("UPDATE kv SET v = 'c' RETURNING k") as cursor:
        with statements_inline() if inline else contextlib.nullcontext():
            async with transaction(db):
                await db.execute("INSERT INTO kv VALUES (3, 'd')")
        assert sorted(tuple(r) for r in await cursor.fetchall()) == [(1,), (2,)]
    assert cursor.rowcount == 2
    assert [tuple(r) for r in await db.execute_fetchall("SELECT k, v FROM kv ORDER BY k")] == [
        (1, "c"),
        (2, "c"),
        (3, "d"),
    ]


async def test_a_refused_commit_leaves_no_transaction_open(traced):
    db, _ = traced
    await db.execute(
        "CREATE TABLE child (k INTEGER REFERENCES kv (k) DEFERRABLE INITIALLY DEFERRED)"
    )
    with pytest.raises(sqlite3.IntegrityError):
        async with transaction(db):
            await db.execute("INSERT INTO child VALUES (99)")  # no such kv row: COMMIT refuses
    assert not db.in_transaction
    async with transaction(db):
        await db.execute("INSERT INTO kv VALUES (99, 'z')")
    assert len(await db.execute_fetchall("SELECT k FROM kv")) == 1


async def test_a_checkpoint_handed_to_the_thread_holds_up_no_commit(traced, monkeypatch):
    # its answer left unread, the PRAGMA counted as a statement under way: COMMITs failed
    db, threads = traced
    monkeypatch.setattr(inline_sqlite, "CHECKPOINT_EVERY", 1)
    with statements_inline():
        async with transaction(db):
            await db.execute("INSERT INTO kv VALUES (1, 'a')")
        assert db.checkpointing is not None
        await db.checkpointing
        async with transaction(db):
            await db.execute("INSERT INTO kv VALUES (2, 'b')")
    assert threads.of("PRAGMA wal_checkpoint") == [threads.of("CREATE")[0]]
    assert len(await db.execute_fetchall("SELECT k FROM kv")) == 2
