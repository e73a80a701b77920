"""Whole tables, read from SQLite and written into PostgreSQL as they are (`copy-database`).

The catalog of each engine says which tables and columns there are; rows go across in batches,
values untouched (sealed values and lookup hashes stay the bytes they are: nothing is opened).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiosqlite
import psycopg

from bot.postgres import PostgresConnection


class RowsRefused(Exception):
    """PostgreSQL refused a table's rows (a value of another type, a broken reference)."""


@dataclass(frozen=True)
class Column:
    """A column of a PostgreSQL table: its name and its type's oid (binary COPY needs it)."""

    name: str
    type_oid: int


async def sqlite_tables(db: aiosqlite.Connection) -> dict[str, list[str]]:
    """Every table of the SQLite database (its own `sqlite_*` aside) with its column names."""
    rows = await db.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    tables = {}
    for (name,) in rows:
        info = await db.execute_fetchall(f'PRAGMA table_info("{name}")')
        tables[name] = [row[1] for row in info]
    return tables


async def sqlite_rows(
    db: aiosqlite.Connection, table: str, columns: list[str], *, batch: int
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The table's rows, `batch` at a time, with the columns in the order given."""
    names = ", ".join(f'"{column}"' for column in columns)
    async with db.execute(f'SELECT {names} FROM "{table}"') as cursor:
        while rows := await cursor.fetchmany(batch):
            yield [tuple(row) for row in rows]


async def sqlite_count(db: aiosqlite.Connection, table: str) -> int:
    rows = await db.execute_fetchall(f'SELECT count(*) FROM "{table}"')
    return int(next(iter(rows))[0])


async def sqlite_sequences(db: aiosqlite.Connection) -> dict[str, int]:
    """The highest id each AUTOINCREMENT table ever gave (deleted rows' ids are not reused)."""
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    if not list(await db.execute_fetchall(query)):
        return {}
    return {name: int(seq) for name, seq in await db.execute_fetchall(_SQLITE_SEQUENCES)}


_SQLITE_SEQUENCES = "SELECT name, seq FROM sqlite_sequence"
_PG_COLUMNS = """
SELECT c.relname, a.attname, a.atttypid::bigint
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""
_PG_PARENTS = """
SELECT DISTINCT c.relname, p.relname
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_class p ON p.oid = con.confrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND con.contype = 'f'
"""
_PG_IDENTITIES = """
SELECT c.relname, a.attname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attidentity <> ''
"""


async def pg_tables(db: PostgresConnection) -> dict[str, list[Column]]:
    """Every table of the PostgreSQL database's public schema with its columns, in order."""
    tables: dict[str, list[Column]] = {}
    for table, column, type_oid in await db.execute_fetchall(_PG_COLUMNS):
        tables.setdefault(table, []).append(Column(column, int(type_oid)))
    return tables


async def pg_parents(db: PostgresConnection) -> set[tuple[str, str]]:
    """(table, the table one of its foreign keys points to), for every foreign key."""
    return {(child, parent) for child, parent in await db.execute_fetchall(_PG_PARENTS)}


async def pg_has_rows(db: PostgresConnection, table: str) -> bool:
    rows = await db.execute_fetchall(f'SELECT EXISTS (SELECT 1 FROM "{table}")')
    return bool(rows[0][0])


async def pg_count(db: PostgresConnection, table: str) -> int:
    rows = await db.execute_fetchall(f'SELECT count(*) FROM "{table}"')
    return int(rows[0][0])


async def pg_copy_in(
    db: PostgresConnection,
    table: str,
    columns: list[Column],
    batches: AsyncIterable[list[tuple[Any, ...]]],
) -> None:
    """Write the rows into the table with one binary COPY, each value as the column's type.

    Binary COPY takes a value only as the type it is told: text where PostgreSQL keeps bytes,
    or bytes where it keeps text, fails the copy rather than being stored converted.
    """
    names = ", ".join(f'"{column.name}"' for column in columns)
    statement = f'COPY "{table}" ({names}) FROM STDIN (FORMAT BINARY)'
    try:
        async with (
            db.lend() as conn,
            conn.cursor() as cursor,
            cursor.copy(statement.encode()) as copy,
        ):
            copy.set_types([column.type_oid for column in columns])
            async for rows in batches:
                for row in rows:
                    await copy.write_row(row)
    except (psycopg.Error, TypeError, ValueError) as error:
        raise RowsRefused(f"table {table}: {type(error).__name__}: {error}") from error


_PG_PLAIN_INDEXES = """
SELECT i.relname, pg_get_indexdef(ix.indexrelid)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND t.relname = ?
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid)
ORDER BY i.relname
"""


async def pg_drop_plain_indexes(db: PostgresConnection, table: str) -> list[str]:
    """Drop the table's indexes that no constraint stands on; return their definitions (one
    index built after a bulk load costs a fraction of one kept up to date row by row)."""
    indexes = await db.execute_fetchall(_PG_PLAIN_INDEXES, (table,))
    for name, _definition in indexes:
        await db.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in indexes]


async def pg_create_indexes(db: PostgresConnection, definitions: list[str]) -> None:
    """Build the indexes `pg_drop_plain_indexes` dropped, as they were."""
    for definition in definitions:
        await db.run_script(definition)


async def pg_identities(db: PostgresConnection) -> dict[str, str]:
    """table -> its identity column (the surrogate `id`s)."""
    return dict(await db.execute_fetchall(_PG_IDENTITIES))


async def pg_continue_identity(
    db: PostgresConnection, table: str, column: str, *, after: int
) -> None:
    """The identity's next value past every id in the table and past `after`."""
    await db.execute(
        f'SELECT setval(pg_get_serial_sequence(?, ?), greatest(max("{column}"), ?, 0) + 1, false)'
        f' FROM "{table}"',
        (f'"{table}"', column, after),
    )
