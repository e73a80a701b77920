"""SQLite connection, explicit transactions and numbered migrations."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from weakref import WeakKeyDictionary

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


async def connect(path: Path | str) -> aiosqlite.Connection:
    """Open a connection in WAL mode with foreign keys and a busy timeout; we own transactions."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(str(path), isolation_level=None)
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute("PRAGMA busy_timeout = 5000")
    await db.execute("PRAGMA synchronous = NORMAL")
    return db


# One connection is shared by every handler and job: its transactions take turns.
_locks: WeakKeyDictionary[aiosqlite.Connection, asyncio.Lock] = WeakKeyDictionary()


@asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception; one at a time per connection."""
    lock = _locks.setdefault(db, asyncio.Lock())
    async with lock:
        await db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """The numbered migration files, in order."""
    return sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))


async def applied_migrations(db: aiosqlite.Connection) -> set[str]:
    """Names of the migrations already recorded."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    async with db.execute("SELECT name FROM schema_migrations") as cursor:
        return {row[0] async for row in cursor}


async def migrate(db: aiosqlite.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each atomically with its record; return the names applied."""
    done = await applied_migrations(db)
    applied = []
    for path in migration_files(directory):
        if path.name in done:
            continue
        async with transaction(db):
            for statement in _split_statements(path.read_text(encoding="utf-8")):
                await db.execute(statement)
            await db.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (path.name, datetime.now(UTC).isoformat()),
            )
        log.info("applied migration %s", path.name)
        applied.append(path.name)
    return applied


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
