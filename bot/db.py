"""SQLite connection, explicit transactions and numbered migrations."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from weakref import WeakKeyDictionary

import aiosqlite

from bot.crypto import Vault
from bot.inline_sqlite import open_inline

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BUSY_TIMEOUT_MS = 5000
# A migration with this line rewrites values that must not survive in the file: it leaves the
# header's user_version at REBUILD_PENDING, and `migrate` rebuilds the file (`rebuild_file`)
# until one rebuild has finished (also after a crash between the migration and the rebuild).
REBUILD_MARK = "-- rebuild-file"
REBUILD_PENDING = 1
SCHEMA_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
)


async def connect(path: Path | str, secret_key: str) -> aiosqlite.Connection:
    """Open a connection in WAL mode with foreign keys and a busy timeout; we own transactions.

    The connection gets the vault of `secret_key` (bot/crypto.py) as SQL functions: `ref_of`,
    `seal(text, place, row)`, `unseal(blob, place, row)`, `key_fingerprint`. Deleted content is
    overwritten (secure_delete); `rebuild_file` clears what a rewritten page keeps.
    """
    if str(path) != ":memory:":
        make_private_file(Path(path))
    db = await open_inline(path, busy_timeout_ms=BUSY_TIMEOUT_MS)  # bot/inline_sqlite.py
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await db.execute("PRAGMA synchronous = NORMAL")
    await db.execute("PRAGMA main.secure_delete = ON")  # temp holds only sealed data
    await install_vault(db, Vault.from_secret(secret_key))
    return db


def make_private_dir(folder: Path) -> None:
    """Create `folder` and its missing parents, each readable by the bot's user only (0700)."""
    for missing in reversed([p for p in (folder, *folder.parents) if not p.exists()]):
        missing.mkdir(mode=0o700, exist_ok=True)


def make_private_file(path: Path) -> None:
    """Create a database file 0600 before SQLite opens it (SQLite gives its -wal and -shm the
    database's mode), and narrow an older installation's files (0644 before) to 0600."""
    make_private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            try:
                file.chmod(0o600)
            except PermissionError:  # another user's file: say so, the bot may still use it
                log.warning("%s can be read by other users; make it 0600", file)


_vaults: WeakKeyDictionary[aiosqlite.Connection, Vault] = WeakKeyDictionary()


async def install_vault(db: aiosqlite.Connection, vault: Vault, *, prefix: str = "") -> None:
    """Give the connection the vault's SQL functions (`prefix` names a second vault's set)."""
    await db.create_function(f"{prefix}ref_of", 1, vault.sql_ref, deterministic=True)
    await db.create_function(f"{prefix}seal", 3, vault.sql_seal)
    await db.create_function(f"{prefix}unseal", 3, vault.sql_open, deterministic=True)
    await db.create_function(
        f"{prefix}key_fingerprint", 0, lambda: vault.fingerprint, deterministic=True
    )
    if not prefix:
        _vaults[db] = vault
        # Migration 0011 only: the unkeyed stand-in for a NIK that outbox keys held before.
        await db.create_function("legacy_outbox_ref", 1, _legacy_outbox_ref, deterministic=True)
        # Migrations 0011 and 0015 only: values sealed bound to no place or row.
        await db.create_function("seal_v1", 1, vault.sql_seal_v1)
        await db.create_function("unseal_v1", 1, vault.sql_open_v1, deterministic=True)


def _legacy_outbox_ref(nik: str | None) -> str | None:
    return (
        None if nik is None else hashlib.sha256(f"dukcapil-outbox:{nik}".encode()).hexdigest()[:20]
    )


class Vaulted(Protocol):
    """A connection that carries its vault (PostgreSQL's, bot/postgres.py)."""

    vault: Vault


def vault_of(db: aiosqlite.Connection | Vaulted) -> Vault:
    """The vault `connect` gave this connection."""
    return _vaults[db] if isinstance(db, aiosqlite.Connection) else db.vault


# One connection is shared by every handler and job: its transactions take turns.
_locks: WeakKeyDictionary[aiosqlite.Connection, asyncio.Lock] = WeakKeyDictionary()
# Written into every transaction that commits while it is set: the update being handled records
# itself as handled in the transaction of its effects (bot/conversations.py sets it).
before_commit: ContextVar[Callable[[Any], Awaitable[object]] | None] = ContextVar(
    "before_commit", default=None
)


class Transactional(Protocol):
    """A connection that runs its own transactions (PostgreSQL's, bot/postgres.py)."""

    def transaction(
        self, *, locks: Sequence[int] | None = None
    ) -> AbstractAsyncContextManager[Any]: ...


Conn = TypeVar("Conn", bound=aiosqlite.Connection | Transactional)


@asynccontextmanager
async def transaction(db: Conn, *, locks: Sequence[int] | None = None) -> AsyncIterator[Conn]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception; one at a time per connection.
    On PostgreSQL the connection's own (`PostgresConnection.transaction`): one writer at a time
    in the database, or, given `locks` (a booking's, `storage.bookings.booking_locks`), beside
    the other transactions given theirs, each holding its own locks from BEGIN on."""
    if not isinstance(db, aiosqlite.Connection):
        async with db.transaction(locks=locks):
            yield db
            if (hook := before_commit.get()) is not None:
                await hook(db)
        return
    lock = _locks.setdefault(db, asyncio.Lock())
    async with lock:
        await _begin_to_the_end(db)
        try:
            yield db
            if (hook := before_commit.get()) is not None:
                await hook(db)
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        try:
            await db.execute("COMMIT")
        except sqlite3.Error:  # refused (a deferred constraint): still open, for every later BEGIN
            await db.execute("ROLLBACK")  # to fail on
            raise


@asynccontextmanager
async def large_cache(db: aiosqlite.Connection, *, kib: int) -> AsyncIterator[None]:
    """A page cache of `kib` KiB for a bulk write, then the connection's previous one."""
    async with db.execute("PRAGMA cache_size") as cursor:
        row = await cursor.fetchone()
    await db.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        await db.execute(f"PRAGMA cache_size = {int(row[0]) if row else -2000}")


async def _begin_to_the_end(db: aiosqlite.Connection) -> None:
    """BEGIN IMMEDIATE even for a task cancelled meanwhile (the sender stopped as it started):
    the statement runs in aiosqlite's thread whatever becomes of the task awaiting it, so a
    cancelled task waits for it and rolls it back before it lets the lock go; else the next
    transaction on the connection fails with "cannot start a transaction within a transaction"."""
    begin = asyncio.ensure_future(_begin_immediate(db))
    try:
        await asyncio.shield(begin)
    except asyncio.CancelledError:
        while not begin.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([begin])
        if begin.exception() is None and db.in_transaction:  # (an error of its own: no BEGIN)
            await asyncio.shield(db.execute("ROLLBACK"))
        raise


async def _begin_immediate(db: aiosqlite.Connection) -> None:
    """BEGIN IMMEDIATE, retried while a read on this same connection holds an old snapshot.

    A job reading rows with `async for` keeps its statement (and its WAL snapshot) open across
    awaits. If another process (`run-job`, `import-residents`) commits meanwhile, this
    connection cannot take the write lock until that read ends: SQLite answers "database is
    locked" at once, without waiting out busy_timeout. The reader ends if we yield, so retry
    for as long as busy_timeout would have waited.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            await db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or loop.time() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """The numbered migration files, in order."""
    return sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))


async def applied_migrations(db: aiosqlite.Connection) -> set[str]:
    """Names of the migrations already recorded."""
    await db.execute(SCHEMA_MIGRATIONS_TABLE)
    async with db.execute("SELECT name FROM schema_migrations") as cursor:
        return {row[0] async for row in cursor}


async def migrate(
    db: aiosqlite.Connection, directory: Path = MIGRATIONS_DIR, *, check: bool = True
) -> list[str]:
    """Apply pending migrations, each atomically with its record; return the names applied.

    Refuse a database that a newer version of the bot has migrated (DatabaseNewer), before
    changing anything; then a SECRET_KEY other than the database's (`check`; off only for
    `rotate-key`).
    """
    done = await applied_migrations(db)
    refuse_unknown_migrations(done, migration_files(directory))
    applied = []
    for path in migration_files(directory):
        if path.name in done:
            continue
        script = path.read_text(encoding="utf-8")
        async with transaction(db):
            for statement in _split_statements(script):
                await db.execute(statement)
            await db.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (path.name, datetime.now(UTC).isoformat()),
            )
            if REBUILD_MARK in script.splitlines():
                await mark_rebuild_pending(db)
        log.info("applied migration %s", path.name)
        applied.append(path.name)
    rows = list(await db.execute_fetchall("PRAGMA user_version"))
    if rows[0][0] == REBUILD_PENDING:
        await rebuild_file(db)
    if check:
        await check_key(db)
    return applied


class DatabaseNewer(RuntimeError):
    """The database has migrations this version of the bot does not know."""


def refuse_unknown_migrations(applied: set[str], known: list[Path]) -> None:
    """Refuse to run on a database a newer version migrated: its code may rely on tables and
    rules this one would break (an upgrade rolled back without its backup)."""
    unknown = sorted(applied - {path.name for path in known})
    if unknown:
        raise DatabaseNewer(
            f"the database was migrated by a newer version of the bot ({', '.join(unknown)}"
            " unknown to this one). Run that version again, or restore the backup made before"
            " the upgrade (`dukcapil-bot restore FILE`); this version does not run on it."
        )


async def mark_rebuild_pending(db: aiosqlite.Connection) -> None:
    """Inside a transaction that replaces values: the file is rebuilt after it (`migrate` does it
    if the process stops before `rebuild_file` has)."""
    await db.execute(f"PRAGMA user_version = {REBUILD_PENDING}")


async def rebuild_file(db: aiosqlite.Connection) -> None:
    """Write the database file anew from what it holds now, then empty the WAL into it.

    secure_delete zeroes deleted cells, but a page rewritten in place keeps stale bytes in its
    gaps, and the WAL keeps whole old pages: after values were replaced (sealed, re-sealed) the
    old ones would survive there, and in every backup copied from the file. VACUUM rebuilds every
    page from the live rows; the truncating checkpoint copies those pages into the file, cuts it
    to its new size and the WAL to zero bytes. Outside a transaction; no other connection may be
    reading (the bot is stopped, or this is its own start-up).
    """
    await db.execute("VACUUM")
    await _checkpoint_truncate(db)
    await db.execute("PRAGMA user_version = 0")  # done; the page it writes holds nothing old
    await _checkpoint_truncate(db)
    log.info("rebuilt the database file: no replaced value left in it or its WAL")


async def _checkpoint_truncate(db: aiosqlite.Connection) -> None:
    async with db.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
        row = await cursor.fetchone()
    if row is None or row[0] != 0:
        raise RuntimeError(
            "another process held the database: its WAL may still hold replaced values;"
            " stop every process using it and run `dukcapil-bot migrate`"
        )


class WrongSecretKey(RuntimeError):
    """SECRET_KEY is not the key the database was sealed with."""


async def check_key(db: aiosqlite.Connection) -> None:
    """Refuse a SECRET_KEY other than the database's: every lookup would find nobody."""
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vault_key'"
    if not list(await db.execute_fetchall(query)):
        return  # not migrated that far (migrations up to 0010 only, in a test)
    rows = list(await db.execute_fetchall("SELECT fingerprint FROM vault_key WHERE id = 1"))
    if rows and rows[0][0] != vault_of(db).fingerprint:
        raise WrongSecretKey(
            f"SECRET_KEY does not match this database (sealed with key {rows[0][0]}, "
            f"SECRET_KEY gives {vault_of(db).fingerprint}). Set the SECRET_KEY the database was "
            "made with, or restore the backup of the key; `rotate-key` changes keys."
        )


def _split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (triggers included)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not buffer.strip().startswith("--"):
        statements.append(buffer.strip())
    return statements
