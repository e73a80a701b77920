"""`copy-database`: an office's SQLite database moved into an empty PostgreSQL database.

Every table goes across as it is: sealed values and lookup hashes are copied byte for byte,
never opened nor sealed again, so the PostgreSQL database answers to the same SECRET_KEY. The
target is migrated first (its `schema_migrations` and `vault_key` rows are its own, and its key
fingerprint must match), then filled in one transaction: tables in foreign-key order, the
identities set past the copied ids, every table's count compared before COMMIT. A failure
leaves the target migrated and empty, ready for another try.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiosqlite

from bot import postgres
from bot.db import applied_migrations as sqlite_migrations
from bot.db import check_key, migration_files
from bot.postgres import PostgresConnection
from bot.storage import copying
from bot.storage.copying import Column

log = logging.getLogger(__name__)

# Rows the target writes itself when it is migrated: not copied (send_budget: the workers' shared
# sending moment, migration 0029, state of the running workers, not of the office).
OWN_ROWS = frozenset({"schema_migrations", "vault_key", "send_budget"})
BATCH = 5000


class CopyRefused(Exception):
    """The copy cannot start as asked; nothing was written. The message says why."""


class CopyFailed(Exception):
    """The copy did not come out whole and was rolled back; the message says what differed."""


@dataclass(frozen=True)
class CopyReport:
    """Rows copied per table (equal on both sides), in the order the tables were filled."""

    rows: dict[str, int]


async def copy_database(
    source: aiosqlite.Connection, target: PostgresConnection, *, batch: int = BATCH
) -> CopyReport:
    """Copy the SQLite database `source` into the empty PostgreSQL database `target`."""
    await _refuse_unmigrated(source)
    await check_key(source)
    await _refuse_filled(target)
    await postgres.migrate(target)  # refuses a target sealed with another key
    plan = await _plan(source, target)
    sequences = await copying.sqlite_sequences(source)
    identities = await copying.pg_identities(target)
    await source.execute("BEGIN")  # one read snapshot of the source for every table
    try:
        async with target.transaction():
            await _refuse_filled(target)  # meanwhile, under the write lock
            for table, columns in plan:
                await _copy_table(source, target, table, columns, batch=batch)
            for table, column in identities.items():
                after = sequences.get(table, 0)
                await copying.pg_continue_identity(target, table, column, after=after)
            counts = await _compare_counts(source, target, [table for table, _ in plan])
    finally:
        await source.execute("ROLLBACK")
    return CopyReport(counts)


async def _copy_table(
    source: aiosqlite.Connection,
    target: PostgresConnection,
    table: str,
    columns: list[Column],
    *,
    batch: int,
) -> None:
    """One table's rows; a large table's plain indexes are built once after them (residents:
    half the time), in the same transaction."""
    large = await copying.sqlite_count(source, table) > batch
    indexes = await copying.pg_drop_plain_indexes(target, table) if large else []
    rows = copying.sqlite_rows(source, table, [c.name for c in columns], batch=batch)
    try:
        await copying.pg_copy_in(target, table, columns, rows)
    except copying.RowsRefused as error:
        raise CopyFailed(f"{error}; the copy was rolled back") from error
    await copying.pg_create_indexes(target, indexes)


async def _refuse_unmigrated(source: aiosqlite.Connection) -> None:
    """Only a SQLite database at this version's newest migration has the target's schema."""
    known = {path.name for path in migration_files()}
    done = await sqlite_migrations(source)
    if newer := sorted(done - known):
        raise CopyRefused(
            f"the SQLite database was migrated by a newer version of the bot ({', '.join(newer)}"
            " unknown to this one); copy it with that version"
        )
    if missing := sorted(known - done):
        raise CopyRefused(
            f"the SQLite database lacks migrations ({missing[0]} and {len(missing) - 1} more):"
            " run `dukcapil-bot migrate` on it first (without DATABASE_URL)"
        )


async def _refuse_filled(target: PostgresConnection) -> None:
    filled = [
        table
        for table in sorted(await copying.pg_tables(target))
        if table not in OWN_ROWS and await copying.pg_has_rows(target, table)
    ]
    if filled:
        raise CopyRefused(
            f"the PostgreSQL database is not empty (rows in {', '.join(filled[:5])}"
            + (f" and {len(filled) - 5} more tables" if len(filled) > 5 else "")
            + "); copy into a new, empty database (CREATE DATABASE), nothing was changed"
        )


async def _plan(
    source: aiosqlite.Connection, target: PostgresConnection
) -> list[tuple[str, list[Column]]]:
    """The tables to fill, parents before children, with the target's columns; refused when
    the two schemas do not hold the same tables and columns."""
    lite, pg = await copying.sqlite_tables(source), await copying.pg_tables(target)
    if set(lite) != set(pg):
        raise CopyRefused(
            "the two databases do not have the same tables (only in SQLite: "
            f"{sorted(set(lite) - set(pg))}, only in PostgreSQL: {sorted(set(pg) - set(lite))})"
        )
    for table, columns in pg.items():
        if {c.name for c in columns} != set(lite[table]):
            raise CopyRefused(f"table {table} has other columns in SQLite than in PostgreSQL")
    order = parents_first(set(pg) - OWN_ROWS, await copying.pg_parents(target))
    return [(table, pg[table]) for table in order]


def parents_first(tables: set[str], parents: set[tuple[str, str]]) -> list[str]:
    """The tables in an order where each comes after the tables its foreign keys point to."""
    waiting = {t: {p for c, p in parents if c == t and p != t and p in tables} for t in tables}
    order: list[str] = []
    while waiting:
        ready = sorted(table for table, needs in waiting.items() if not needs)
        if not ready:
            raise CopyRefused(f"foreign keys in a circle between {sorted(waiting)}")
        order += ready
        for table in ready:
            del waiting[table]
        for needs in waiting.values():
            needs.difference_update(ready)
    return order


async def _compare_counts(
    source: aiosqlite.Connection, target: PostgresConnection, tables: list[str]
) -> dict[str, int]:
    counts, differ = {}, []
    for table in tables:
        lite, pg = await copying.sqlite_count(source, table), await copying.pg_count(target, table)
        counts[table] = pg
        if lite != pg:
            differ.append(f"{table}: {lite} rows in SQLite, {pg} in PostgreSQL")
    if differ:
        raise CopyFailed("the counts differ, the copy was rolled back: " + "; ".join(differ))
    return counts
