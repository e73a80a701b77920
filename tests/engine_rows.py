"""The end-to-end bot's database as a test reads it, on the engine the bot ran on (the `settings`
fixture's: SQLite's file at DATABASE_PATH, or PostgreSQL's DATABASE_URL), through
`bot.engine.open_database` and SQL both engines accept."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.engine import Connection, is_postgresql, open_database

# Every table of the database with its columns, in their order (views left out).
PG_COLUMNS = (
    "SELECT c.table_name, c.column_name FROM information_schema.columns c"
    " JOIN information_schema.tables t USING (table_schema, table_name)"
    " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
    " ORDER BY c.table_name, c.ordinal_position"
)
SQLITE_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"


async def rows(settings: Settings, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """The rows of one query, on a connection of its own (the bot may run in another process)."""
    conn = await open_database(settings)
    try:
        return [tuple(row) for row in await conn.execute_fetchall(sql, args)]
    finally:
        await conn.close()


async def count(settings: Settings, sql: str, *args: object) -> int:
    """The first column of the first row of a `SELECT count(*) ...`."""
    found = await rows(settings, sql, *args)
    return int(found[0][0]) if found else 0


async def tables_and_columns(db: Connection) -> dict[str, list[str]]:
    """Every table of the database with its columns."""
    if is_postgresql(db):
        found: dict[str, list[str]] = {}
        for table, column in await db.execute_fetchall(PG_COLUMNS):
            found.setdefault(table, []).append(column)
        return found
    tables = [name for (name,) in await db.execute_fetchall(SQLITE_TABLES)]
    return {
        table: [row[1] for row in await db.execute_fetchall(f'PRAGMA table_info("{table}")')]
        for table in tables
    }


async def every_row(db: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as {column: value} (text as str, bytes as bytes)."""
    found = {}
    for table, columns in (await tables_and_columns(db)).items():
        listed = ", ".join(f'"{column}"' for column in columns)
        found[table] = [
            dict(zip(columns, row, strict=True))
            for row in await db.execute_fetchall(f'SELECT {listed} FROM "{table}"')
        ]
    return found
