"""The bot's PostgreSQL database: a pool (bot/postgres.py::PostgresPool) that storage functions
use as they use one connection, each task on its own connection."""

from __future__ import annotations

import asyncio

import pytest

from bot import db as dbmod
from bot import postgres
from bot.app import prepare_database
from bot.config import Settings
from bot.engine import is_postgresql, open_database
from bot.storage.chats import get_locale, set_locale
from bot.storage.service_points import DEFAULTS_CSV as SEED_POINTS
from tests.conftest import NOW, SECRET_KEY
from tests.pg import Cluster, Unavailable


@pytest.fixture
async def pool(pg_migrated_url):
    conn = await postgres.open_pool(pg_migrated_url, SECRET_KEY, size=4)
    await conn.execute("CREATE TABLE counter (n BIGINT NOT NULL)")
    await conn.execute("INSERT INTO counter (n) VALUES (0)")
    yield conn
    await conn.close()


async def test_the_first_statement_after_a_server_restart_succeeds():
    """A connection the pool holds from before a restart is dead: it is found so when borrowed
    and replaced, instead of failing the statement (a cluster of its own: the session's stays
    up for the other tests)."""
    try:
        cluster = await asyncio.to_thread(Cluster.start)
    except Unavailable as why:
        pytest.skip(str(why))
    try:
        url = cluster.create_database("restarted")
        pool = await postgres.open_pool(url, SECRET_KEY, size=2)
        try:
            assert await pool.execute_fetchall("SELECT 1") == [(1,)]
            await asyncio.to_thread(cluster.restart)
            assert await pool.execute_fetchall("SELECT 2") == [(2,)]
        finally:
            await pool.close()
    finally:
        await asyncio.to_thread(cluster.stop)


async def _count(db) -> int:
    rows = await db.execute_fetchall("SELECT n FROM counter")
    return rows[0][0]


async def test_concurrent_transactions_each_read_and_write_in_turn(pool):
    async def add_one() -> None:
        async with dbmod.transaction(pool):
            n = await _count(pool)
            await asyncio.sleep(0)  # the others run meanwhile
            await pool.execute("UPDATE counter SET n = ?", (n + 1,))

    await asyncio.gather(*(add_one() for _ in range(40)))
    assert await _count(pool) == 40


async def test_a_transactions_statements_go_to_its_own_connection(pool):
    inside, outside = asyncio.Event(), asyncio.Event()
    seen = {}

    async def writer() -> None:
        async with dbmod.transaction(pool):
            await pool.execute("UPDATE counter SET n = 7")
            seen["writer"] = await _count(pool)
            assert pool.in_transaction
            inside.set()
            await outside.wait()

    async def reader() -> None:
        await inside.wait()
        assert not pool.in_transaction  # another task's transaction is not this one's
        seen["reader"] = await _count(pool)  # another connection: 7 is not committed yet
        outside.set()

    await asyncio.gather(writer(), reader())
    assert seen == {"writer": 7, "reader": 0}
    assert await _count(pool) == 7


async def test_a_task_started_in_a_transaction_does_not_use_its_connection(pool):
    committed = asyncio.Event()

    async def later() -> tuple[bool, int]:
        await committed.wait()  # the connection is back in the pool, maybe another's now
        return pool.in_transaction, await _count(pool)

    async with dbmod.transaction(pool):
        await pool.execute("UPDATE counter SET n = 2")
        child = asyncio.create_task(later())  # it inherits the task's context
    committed.set()
    assert await child == (False, 2)


async def test_a_failed_transaction_is_rolled_back_and_its_connection_serves_again(pool):
    async def fail() -> None:
        async with dbmod.transaction(pool):
            await pool.execute("UPDATE counter SET n = 5")
            raise LookupError

    with pytest.raises(LookupError):
        await fail()
    assert not pool.in_transaction
    for _ in range(8):  # every connection of the pool, the one given back among them
        async with dbmod.transaction(pool):
            await pool.execute("UPDATE counter SET n = n + 1")
    assert await _count(pool) == 8


async def test_a_cancelled_transaction_leaves_the_pool_usable(pool):
    started = asyncio.Event()

    async def stuck() -> None:
        async with dbmod.transaction(pool):
            await pool.execute("UPDATE counter SET n = 3")
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with dbmod.transaction(pool):  # the write lock was let go with the rollback
        assert await _count(pool) == 0


async def test_reading_a_cursor_holds_no_connection(pg_migrated_url):
    single = await postgres.open_pool(pg_migrated_url, SECRET_KEY, size=1)
    try:
        async with single.execute("SELECT code FROM areas") as cursor:
            # one connection in all: a statement inside the loop finds it free
            inner = await single.execute_fetchall("SELECT count(*) FROM schema_migrations")
            assert [row async for row in cursor] == []
        assert inner[0][0] > 0
    finally:
        await single.close()


async def test_storage_functions_run_on_the_pool(pool):
    assert is_postgresql(pool)
    assert dbmod.vault_of(pool) is pool.vault
    async with dbmod.transaction(pool):
        await set_locale(pool, 42, "en", now=NOW)
    assert await get_locale(pool, 42) == "en"


async def test_the_bots_connections_do_not_jit_compile_queries(pool, pg_migrated_url):
    """JIT compilation (on by default) took seconds of a day's reminder planning on two busy
    cores: every connection of the pool, the first and those opened for a crowd, and the single
    connection of tools, turn it off."""

    together = asyncio.Barrier(4)

    async def jit() -> str:
        async with pool.lend() as conn:
            await together.wait()  # four connections held at once: the pool opened three more
            cursor = await conn.execute("SHOW jit")
            return (await cursor.fetchone())[0]

    assert set(await asyncio.gather(*(jit() for _ in range(4)))) == {"off"}
    single = await postgres.connect(pg_migrated_url, SECRET_KEY)
    try:
        assert (await single.execute_fetchall("SHOW jit"))[0][0] == "off"
    finally:
        await single.close()


async def test_open_database_opens_the_pool_of_database_url(pg_migrated_url, tmp_path):
    settings = Settings.from_env(
        {
            "DATABASE_PATH": str(tmp_path / "unused.sqlite3"),
            "DATABASE_URL": pg_migrated_url,
            "DATABASE_POOL_SIZE": "3",
            "SECRET_KEY": SECRET_KEY,
        },
        require_token=False,
    )
    db = await open_database(settings)
    try:
        assert isinstance(db, postgres.PostgresPool)
        assert db.pool.max_size == 3
    finally:
        await db.close()
    assert not (tmp_path / "unused.sqlite3").exists()


async def test_a_database_that_does_not_sort_by_bytes_is_refused(pg_cluster):
    url = pg_cluster.create_database("sorted_by_locale", collation="C.UTF-8")
    conn = await postgres.connect(url, SECRET_KEY)
    try:
        with pytest.raises(postgres.WrongCollation) as refusal:
            await postgres.migrate(conn)
        tables = await conn.execute_fetchall("SELECT to_regclass('schema_migrations')")
    finally:
        await conn.close()
        pg_cluster.drop_database("sorted_by_locale")
    assert "collation C.UTF-8" in str(refusal.value)
    create = (
        "CREATE DATABASE \"sorted_by_locale\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C'"
    )
    assert create in str(refusal.value)
    assert tables == [(None,)]  # nothing was created


async def test_the_bot_prepares_the_database_of_database_url(pg_url, tmp_path):
    settings = Settings.from_env(
        {
            "DATABASE_PATH": str(tmp_path / "unused.sqlite3"),
            "DATABASE_URL": pg_url,
            "SECRET_KEY": SECRET_KEY,
        },
        require_token=False,
    )
    for _ in range(2):  # a restart finds it migrated and seeded: nothing changes
        db = await prepare_database(settings)
        try:
            migrations = await db.execute_fetchall("SELECT count(*) FROM schema_migrations")
            areas = await db.execute_fetchall("SELECT count(*) FROM areas WHERE level = 'desa'")
            points = await db.execute_fetchall("SELECT count(*) FROM service_points")
        finally:
            await db.close()
        assert migrations[0][0] == len(dbmod.migration_files())
        assert areas[0][0] > 200
        assert points[0][0] == len(SEED_POINTS.read_text().splitlines()) - 1
    assert not (tmp_path / "unused.sqlite3").exists()
