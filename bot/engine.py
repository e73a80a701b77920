"""The database storage functions take: SQLite's (aiosqlite) or PostgreSQL's (bot/postgres.py).

A storage module annotated with `Connection` runs on both engines (its SQL is the same text on
both, or both texts are side by side); one still annotated `aiosqlite.Connection` is SQLite's
only so far (docs/postgresql.md says how the rest are ported). `open_database` opens the one the
settings name: the bot and every command go through it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import psycopg
from aiosqlite import Connection as SQLiteConnection

from bot import db as sqlite
from bot import postgres
from bot.config import Settings
from bot.postgres import PostgresConnection, PostgresPool

if TYPE_CHECKING:
    from typing_extensions import TypeIs

Connection = SQLiteConnection | PostgresConnection | PostgresPool
# A constraint or a refusing trigger said no, on either engine (`except IntegrityError:`).
IntegrityError = (sqlite3.IntegrityError, psycopg.IntegrityError)


@asynccontextmanager
async def savepoint(db: Connection, name: str) -> AsyncIterator[None]:
    """Inside a transaction: the statements of the block undone alone when it raises, and the
    transaction goes on (PostgreSQL refuses every later statement of a transaction in which one
    failed, a constraint's refusal too; SQLite undoes only the failed statement anyway)."""
    await db.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        await db.execute(f"ROLLBACK TO SAVEPOINT {name}")
        await db.execute(f"RELEASE SAVEPOINT {name}")
        raise
    await db.execute(f"RELEASE SAVEPOINT {name}")


def is_postgresql(db: object) -> TypeIs[PostgresConnection | PostgresPool]:
    """Whether `db` speaks PostgreSQL (where a storage function's SQL must differ, both texts sit
    side by side behind this test: docs/postgresql.md). Where it is false, `db` is SQLite's."""
    return not isinstance(db, SQLiteConnection)


async def open_database(settings: Settings) -> Connection:
    """The database of the settings: a pool of connections to DATABASE_URL's PostgreSQL, else
    SQLite's file at DATABASE_PATH (one connection, shared). Not migrated: `migrate` does it."""
    if settings.database_url:
        return await postgres.open_pool(
            settings.database_url, settings.secret_key, size=settings.database_pool_size
        )
    return await sqlite.connect(settings.database_path, settings.secret_key)


async def migrate(db: Connection, *, check: bool = True) -> list[str]:
    """Apply the engine's pending migrations (bot.db.migrate, bot.postgres.migrate); `check`:
    refuse a SECRET_KEY other than the database's (off only for `rotate-key`)."""
    if isinstance(db, SQLiteConnection):
        return await sqlite.migrate(db, check=check)
    return await postgres.migrate(db, check=check)
