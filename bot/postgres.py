"""PostgreSQL (DATABASE_URL): a pool and a connection with aiosqlite's subset of methods, `migrate`.

The bot and every command use the pool (`open_pool`, through bot.engine.open_database); one
connection (`connect`) serves tests and tools. Both take the storage layer's SQL as it is
written for SQLite (`?` and `:name` parameters; see `translate`) so that one text serves both
engines where the SQL agrees.
Sealing stays in Python: the vault's key never reaches the server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import select
from collections.abc import AsyncIterator, Generator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg.sql import Identifier
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.crypto import Vault
from bot.db import (
    MIGRATIONS_DIR,
    SCHEMA_MIGRATIONS_TABLE,
    WrongSecretKey,
    migration_files,
    refuse_unknown_migrations,
)

log = logging.getLogger(__name__)

PG_MIGRATIONS_DIR = MIGRATIONS_DIR / "postgresql"
# The first line of the PostgreSQL migration that creates the schema of every SQLite migration
# up to its own number in one go; those earlier names are recorded as applied with it.
BASELINE_MARK = "-- baseline"

Params = Sequence[Any] | Mapping[str, Any]
# The key of the advisory lock every write transaction takes (bot.db.transaction on PostgreSQL).
WRITE_LOCK = 0x6475_6B63  # "dukc"


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """SQLite's parameter style in psycopg's: `?` -> `%s`, `:name` -> `%(name)s`, `%` -> `%%`.

    Quoted strings, quoted names, comments and `::` casts are left as they are (a `%` inside a
    string literal is doubled: psycopg reads the whole text for its placeholders). Remembered:
    the storage layer sends the same few hundred texts again and again, and reading one
    character by character took a quarter of a millisecond (a fifth of a booking's time in
    the client, profiled with cProfile).
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = sql.find(char, i + 1)
            while end != -1 and sql[end + 1 : end + 2] == char:  # '' inside a string
                end = sql.find(char, end + 2)
            end = n if end == -1 else end + 1
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif char == "?":
            out.append("%s")
            i += 1
        elif char == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(f"%({sql[i + 1 : j]})s")
            i = j
        elif char == "%":
            out.append("%%")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


class Result:
    """What `execute` returns: awaited, the cursor; `async with`, the cursor closed after the
    block (as aiosqlite's `execute`). Its rows are on the client once it ran (psycopg's client
    cursor), so a pool's connection goes back as soon as the statement has run."""

    def __init__(self, db: Statements, sql: str, params: Params | None) -> None:
        self._db, self._sql, self._params = db, sql, params
        self._cursor: psycopg.AsyncCursor[Any] | None = None

    def __await__(self) -> Generator[Any, None, psycopg.AsyncCursor[Any]]:
        return self._run().__await__()

    async def _run(self) -> psycopg.AsyncCursor[Any]:
        async with self._db.lend() as conn:
            self._cursor = conn.cursor()
            await self._cursor.execute(translate(self._sql), self._params or None)
        return self._cursor

    async def __aenter__(self) -> psycopg.AsyncCursor[Any]:
        return await self._run()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class Statements:
    """aiosqlite's subset of methods the storage layer uses, each statement run on the
    connection `lend` gives (PostgresConnection: its own; PostgresPool: the task's)."""

    vault: Vault

    def lend(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        raise NotImplementedError

    def execute(self, sql: str, params: Params | None = None) -> Result:
        """Run one statement written with SQLite's parameters."""
        return Result(self, sql, params)

    async def execute_fetchall(self, sql: str, params: Params | None = None) -> list[Any]:
        async with self.execute(sql, params) as cursor:
            return await cursor.fetchall()

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """The statement once per row. A list of one row runs as a plain statement (psycopg's
        executemany enters pipeline mode, which cost a tenth of a /cek's client time for its
        one row); an empty list runs nothing."""
        if isinstance(rows, list | tuple) and len(rows) <= 1:
            if rows:
                async with self.lend() as conn, conn.cursor() as cursor:
                    await cursor.execute(translate(sql), rows[0])
            return
        async with self.lend() as conn, conn.cursor() as cursor:
            await cursor.executemany(translate(sql), rows)

    async def fetchall_together(self, *statements: tuple[str, Params | None]) -> list[Any]:
        """Run the statements in order, sent at once (psycopg's pipeline mode: one round trip,
        each statement still with its own snapshot); the last one's rows. The first error
        raises, and the statements after it are not run."""
        async with self.lend() as conn:
            cursors = [conn.cursor() for _ in statements]
            async with conn.pipeline():
                for cursor, (sql, params) in zip(cursors, statements, strict=True):
                    await cursor.execute(translate(sql), params or None)
            return await cursors[-1].fetchall()

    async def run_script(self, script: str) -> None:
        """A script of statements without parameters, as written (psycopg sends it whole)."""
        async with self.lend() as conn:
            await conn.execute(script.encode())


@asynccontextmanager
async def _write_transaction(
    conn: psycopg.AsyncConnection[Any], locks: Sequence[int] | None
) -> AsyncIterator[None]:
    """BEGIN ... COMMIT (ROLLBACK on any exception) holding the writers' advisory lock, taken
    with BEGIN in one round trip and held by the server until the end (also when a worker
    dies). Without `locks`, exclusive: one writer at a time in the database, so the rules
    checked inside a transaction hold as under SQLite's BEGIN IMMEDIATE, across processes.
    With `locks` (a booking's: docs/postgresql.md, "Transactions and the invariants"), shared,
    beside the other such transactions only, and these advisory locks, exclusive, in the order
    given: they guard what the transaction's rules read."""
    begin = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK:d})"
    if locks is not None:
        own = "".join(f", pg_advisory_xact_lock({int(key):d})" for key in locks)
        begin = f"BEGIN; SELECT pg_advisory_xact_lock_shared({WRITE_LOCK:d}){own}"
    try:  # a BEGIN cancelled while it waits for a lock is rolled back too
        await conn.execute(begin.encode())
        yield
    except BaseException:
        if not conn.closed:
            await conn.execute(b"ROLLBACK")
        raise
    await conn.execute(b"COMMIT")


class PostgresConnection(Statements):
    """One psycopg connection in autocommit (only our code opens transactions), its vault."""

    def __init__(self, raw: psycopg.AsyncConnection[Any], vault: Vault) -> None:
        self.raw, self.vault = raw, vault
        self._turns = asyncio.Lock()

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        yield self.raw

    @asynccontextmanager
    async def transaction(
        self, *, locks: Sequence[int] | None = None
    ) -> AsyncIterator[PostgresConnection]:
        """BEGIN ... COMMIT (ROLLBACK on any exception), one writer at a time in the database
        unless given `locks` (`_write_transaction`). The connection's own transactions take
        turns, as on SQLite's shared connection."""
        async with self._turns, _write_transaction(self.raw, locks):
            yield self

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    async def close(self) -> None:
        await self.raw.close()


Held = tuple["asyncio.Task[Any] | None", psycopg.AsyncConnection[Any]]


class PostgresPool(Statements):
    """The running bot's database: a pool of connections in autocommit, and its vault.

    Handlers run side by side (one chat's update beside another's), each on its own
    connection: inside `transaction()` the task holds one connection, and every statement of
    that task goes to it until COMMIT; outside, each statement borrows one for its run.
    """

    def __init__(self, pool: AsyncConnectionPool[Any], vault: Vault) -> None:
        self.pool, self.vault = pool, vault
        # The connection of the transaction in progress and the task that holds it: a task
        # created meanwhile inherits the variable, not the connection (`_mine`).
        self._held: ContextVar[Held | None] = ContextVar("held_connection", default=None)

    def _mine(self) -> psycopg.AsyncConnection[Any] | None:
        """The connection of this task's transaction, if it is in one."""
        held = self._held.get()
        return held[1] if held is not None and held[0] is asyncio.current_task() else None

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        held = self._mine()
        if held is not None:
            yield held
            return
        async with self.pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(
        self, *, locks: Sequence[int] | None = None
    ) -> AsyncIterator[PostgresPool]:
        """BEGIN ... COMMIT (ROLLBACK on any exception) on a connection of the pool held by this
        task until the end, one writer at a time in the database unless given `locks`
        (`_write_transaction`). Inside another transaction of the task: a savepoint of it (under
        the outer one's lock)."""
        held = self._mine()
        if held is not None:
            async with held.transaction():
                yield self
            return
        async with self.pool.connection() as conn, _write_transaction(conn, locks):
            token = self._held.set((asyncio.current_task(), conn))
            try:
                yield self
            finally:
                self._held.reset(token)

    @property
    def in_transaction(self) -> bool:
        """Whether this task is inside a transaction (holds a connection)."""
        return self._mine() is not None

    async def close(self) -> None:
        await self.pool.close()


class Unreachable(RuntimeError):
    """The database of DATABASE_URL cannot be reached or refused the login."""


class WrongCollation(RuntimeError):
    """The database does not sort text as SQLite does (by bytes: collation C)."""


async def connect(url: str, secret_key: str) -> PostgresConnection:
    """Open one connection to the database of DATABASE_URL, with the vault of `secret_key`."""
    raw = await _reach(url)
    await _configure(raw)
    return PostgresConnection(raw, Vault.from_secret(secret_key))


async def open_pool(url: str, secret_key: str, *, size: int) -> PostgresPool:
    """A pool of up to `size` connections to the database of DATABASE_URL (the bot's and every
    command's database), with the vault of `secret_key`; a connection lost to a server restart
    is replaced when next borrowed."""
    await (await _reach(url)).close()  # an unreachable server said as libpq says it, at once
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True},
        configure=_configure,
        open=False,
        name="database",
        check=_check,
    )
    try:
        await pool.open(wait=True)
    except PoolTimeout:
        await pool.close()
        raise Unreachable("cannot use the database of DATABASE_URL: no connection") from None
    return PostgresPool(pool, Vault.from_secret(secret_key))


async def _check(conn: psycopg.AsyncConnection[Any]) -> None:
    """Each connection as it is borrowed: one the server closed meanwhile (a restart, a
    failover) is replaced instead of failing the statement it was lent for. An idle connection
    has nothing to read unless the server said something (it closed, it is shutting down): only
    then is it asked (psycopg's check, one round trip), so a healthy one costs no round trip."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    """Each connection's settings: JIT compilation off. The server compiles a query whose
    estimated cost passes `jit_above_cost` (100,000: any join reaching a few thousand of 1.3 M
    residents), which took 1-5 s on two busy cores for a reminder query that runs in 0.5 s
    (benchmarks/RESULTS.md). The bot's queries are meant to answer within a second or three,
    where compiling costs more than it saves."""
    await conn.execute("SET jit = off")


async def _reach(url: str) -> psycopg.AsyncConnection[Any]:
    try:
        return await psycopg.AsyncConnection.connect(url, autocommit=True)
    except psycopg.OperationalError as error:  # libpq names host and port, never the password
        raise Unreachable(f"cannot use the database of DATABASE_URL: {error}") from None


async def applied_migrations(db: Statements) -> set[str]:
    """Names of the migrations already recorded (SQLite's names, in the same table)."""
    await db.execute(SCHEMA_MIGRATIONS_TABLE)
    return {row[0] for row in await db.execute_fetchall("SELECT name FROM schema_migrations")}


def baseline_predecessors(files: list[Path], sqlite_files: list[Path]) -> list[str]:
    """SQLite's migration names that the baseline file (the first, marked) stands for."""
    if not files or not files[0].read_text(encoding="utf-8").startswith(BASELINE_MARK):
        return []
    return [path.name for path in sqlite_files if path.name < files[0].name]


async def migrate(
    db: PostgresConnection | PostgresPool,
    directory: Path = PG_MIGRATIONS_DIR,
    *,
    sqlite_directory: Path = MIGRATIONS_DIR,
    check: bool = True,
) -> list[str]:
    """Apply pending migrations, each atomically with its record; return the names applied.

    The same rules as `bot.db.migrate`: a database a newer bot migrated is refused before any
    change, and then a SECRET_KEY other than the database's (`check`); first of all, a
    database that does not sort text as SQLite does (`check_collation`).
    """
    await check_collation(db)
    async with db.transaction():  # several workers starting at once: one at a time
        done = await applied_migrations(db)
    files = migration_files(directory)
    earlier = baseline_predecessors(files, migration_files(sqlite_directory))
    refuse_unknown_migrations(done, [Path(name) for name in earlier] + files)
    applied = []
    for path in files:
        if path.name in done:
            continue
        script = path.read_text(encoding="utf-8")
        baseline = script.startswith(BASELINE_MARK)
        names = [*earlier, path.name] if baseline else [path.name]
        async with db.transaction():
            if path.name in await applied_migrations(db):  # another worker applied it meanwhile
                continue
            await db.run_script(script)
            if baseline:  # SQLite's 0011 wrote it with a SQL function of the connection
                await _record_key(db)
            await db.executemany(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                [(name, datetime.now(UTC).isoformat()) for name in names],
            )
        log.info("applied migration %s", path.name)
        applied.append(path.name)
    if check:
        await check_key(db)
    return applied


async def _record_key(db: Statements) -> None:
    """The fingerprint of the key the database is sealed with, written from Python."""
    await db.execute(
        "INSERT INTO vault_key (id, fingerprint, since) VALUES (1, ?, ?)",
        (db.vault.fingerprint, datetime.now(UTC).isoformat()),
    )


async def check_key(db: Statements) -> None:
    """Refuse a SECRET_KEY other than the database's: every lookup would find nobody."""
    rows = await db.execute_fetchall("SELECT fingerprint FROM vault_key WHERE id = 1")
    if rows and rows[0][0] != db.vault.fingerprint:
        raise WrongSecretKey(
            f"SECRET_KEY does not match this database (sealed with key {rows[0][0]}, "
            f"SECRET_KEY gives {db.vault.fingerprint}). Set the SECRET_KEY the database was "
            "made with, or restore the backup of the key; `rotate-key` changes keys."
        )


# Collations that compare bytes, as SQLite does: ORDER BY and comparisons give the same answers.
BYTE_COLLATIONS = ("C", "POSIX")


async def check_collation(db: Statements) -> None:
    """Refuse a database whose text is not sorted by bytes (collation C): lists and pages
    ordered by name or code would differ from SQLite's, and the bot would not notice."""
    rows = await db.execute_fetchall(
        "SELECT current_database(), datcollate, to_jsonb(d) ->> 'datlocprovider'"
        " FROM pg_database d WHERE datname = current_database()"
    )
    name, collation, provider = rows[0]
    if collation not in BYTE_COLLATIONS or provider not in (None, "c"):
        raise WrongCollation(
            f"the database {name} sorts text by the collation {collation}"
            f"{' (ICU)' if provider == 'i' else ''}; the bot needs C (text ordered by its bytes,"
            " as on SQLite). Create the database with: CREATE DATABASE "
            f"{Identifier(name).as_string()} TEMPLATE template0 ENCODING 'UTF8'"
            " LC_COLLATE 'C' LC_CTYPE 'C'"
        )
