"""The SQLite and PostgreSQL migrations build the same schema.

Both empty databases are migrated, each schema is read back from the engine's own catalog as a
set of facts (tables; columns with a type family, NOT NULL and default; primary keys; unique
constraints; foreign keys; how many CHECKs; named indexes with their columns and partial WHERE;
triggers) and the test fails listing the facts only one side has. A new SQLite migration needs
its twin in migrations/postgresql/ under the same name (docs/postgresql.md).
"""

from __future__ import annotations

import re

import aiosqlite
import pytest

from bot import db as dbmod
from bot import postgres
from tests.conftest import SECRET_KEY

# Declared TEXT in SQLite, holding BLOBs: migration 0011 renamed the NIK columns to *_ref and
# filled them with lookup hashes, and 0015 sealed the outbox's text, without a rebuild to change
# the declared type (SQLite keeps a blob in a TEXT column as it is). PostgreSQL says BYTEA.
SQLITE_TEXT_HOLDING_BYTES = {
    "bookings.nik_ref",
    "links.subject_ref",
    "outbox.text",
    "received_cards.nik_ref",
    "tickets.nik_ref",
    "waitlist.nik_ref",
}


def sqlite_family(declared: str) -> str:
    """SQLite's type affinity rules, named as the families below."""
    upper = declared.upper()
    if "INT" in upper:
        return "integer"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in upper or not upper:
        return "bytes"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "real"
    return "numeric"


PG_FAMILIES = {
    "bigint": "integer",
    "integer": "integer",
    "smallint": "integer",
    "text": "text",
    "bytea": "bytes",
    "double precision": "real",
    "real": "real",
    "numeric": "numeric",
}


def expression(text: str | None) -> str:
    """A WHERE or DEFAULT as both engines can be compared on: PostgreSQL's casts, ANY/ALL arrays
    and parentheses taken away, lower case, single spaces."""
    if text is None:
        return ""
    text = re.sub(r"::(text|bigint|integer|bytea|double precision|numeric|jsonb)", "", text.lower())
    text = re.sub(r"=\s*any\s*\(\s*array\[", " in (", text)
    text = re.sub(r"<>\s*all\s*\(\s*array\[", " not in (", text)
    text = re.sub(r"[()\[\]]", " ", text)
    return " ".join(re.sub(r"\s*,\s*", " , ", text).split())


def without_comments(sql: str, *, strings: bool = True) -> str:
    """SQL without its comments (and without the text of its string literals unless `strings`)."""

    def keep(match: re.Match[str]) -> str:
        token = match.group(0)
        return "" if token.startswith("--") else token if strings else "''"

    return re.sub(r"'(?:[^']|'')*'|--[^\n]*", keep, sql)


def column_fact(table: str, name: str, family: str, notnull: bool, default: str | None) -> str:
    null = " NOT NULL" if notnull else ""
    return f"column {table}.{name} {family}{null}" + (
        f" DEFAULT {expression(default)}" if default is not None else ""
    )


def index_fact(table: str, name: str, unique: bool, columns: list[str], where: str | None) -> str:
    kind = "unique index" if unique else "index"
    partial = f" WHERE {expression(where)}" if where else ""
    return f"{kind} {table}.{name} ({', '.join(columns)}){partial}"


def foreign_key_fact(table, columns, parent, parent_columns, on_delete, deferred) -> str:
    return (
        f"foreign key {table} ({', '.join(columns)}) -> {parent} ({', '.join(parent_columns)})"
        f" ON DELETE {on_delete}" + (" DEFERRABLE INITIALLY DEFERRED" if deferred else "")
    )


async def sqlite_schema(conn: aiosqlite.Connection) -> set[str]:
    facts: set[str] = set()
    tables = await conn.execute_fetchall(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for table, sql in tables:
        facts.add(f"table {table}")
        info = await conn.execute_fetchall(f'PRAGMA table_info("{table}")')
        key = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        facts.add(f"primary key {table} ({', '.join(key)})")
        for _cid, name, declared, notnull, default, pk in info:
            held = "bytes" if f"{table}.{name}" in SQLITE_TEXT_HOLDING_BYTES else None
            family = held or sqlite_family(declared)
            facts.add(column_fact(table, name, family, bool(notnull or pk), default))
        bare = without_comments(sql, strings=False)
        checks = len(re.findall(r"\bCHECK\s*\(", bare, flags=re.IGNORECASE))
        facts.add(f"checks {table}: {checks}")
        facts |= await _sqlite_indexes(conn, table)
        facts |= await _sqlite_foreign_keys(conn, table, sql)
    triggers = await conn.execute_fetchall(
        "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
    )
    facts |= {f"trigger {table}.{name}" for table, name in triggers}
    return facts


async def _sqlite_indexes(conn: aiosqlite.Connection, table: str) -> set[str]:
    facts = set()
    for _seq, name, unique, origin, _partial in await conn.execute_fetchall(
        f'PRAGMA index_list("{table}")'
    ):
        columns = [row[2] for row in await conn.execute_fetchall(f'PRAGMA index_info("{name}")')]
        if origin == "u":
            facts.add(f"unique {table} ({', '.join(columns)})")
        elif origin == "c":
            rows = await conn.execute_fetchall(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            )
            parts = re.split(r"\bWHERE\b", without_comments(rows[0][0]), maxsplit=1, flags=re.I)
            facts.add(
                index_fact(table, name, bool(unique), columns, parts[1] if parts[1:] else None)
            )
    return facts


async def _sqlite_foreign_keys(conn: aiosqlite.Connection, table: str, sql: str) -> set[str]:
    keys: dict[int, list] = {}
    for (
        key_id,
        _seq,
        parent,
        column,
        parent_column,
        _upd,
        on_delete,
        _match,
    ) in await conn.execute_fetchall(f'PRAGMA foreign_key_list("{table}")'):
        keys.setdefault(key_id, [parent, [], [], on_delete])
        keys[key_id][1].append(column)
        keys[key_id][2].append(parent_column)
    facts = set()
    for parent, columns, parent_columns, on_delete in keys.values():
        clause = re.search(
            rf"REFERENCES\s+\"?{parent}\"?\s*\([^)]*\)([^,]*)", without_comments(sql), re.I
        )
        deferred = bool(clause and "DEFERRABLE INITIALLY DEFERRED" in clause.group(1).upper())
        facts.add(foreign_key_fact(table, columns, parent, parent_columns, on_delete, deferred))
    return facts


PG_ON_DELETE = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
PG_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
"""
PG_NAMES = """ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.num ORDER BY k.ord)"""
PG_CONSTRAINTS = f"""
SELECT c.relname, con.contype, {PG_NAMES.format(keys="con.conkey", rel="con.conrelid")},
       p.relname, {PG_NAMES.format(keys="con.confkey", rel="con.confrelid")},
       con.confdeltype, con.condeferrable AND con.condeferred
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class p ON p.oid = con.confrelid
WHERE n.nspname = 'public'
"""
PG_INDEXES = f"""
SELECT t.relname, i.relname, ix.indisunique,
       {PG_NAMES.format(keys="ix.indkey::int2[]", rel="ix.indrelid")},
       pg_get_expr(ix.indpred, ix.indrelid)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid)
"""
PG_TRIGGERS = """
SELECT c.relname, t.tgname FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal
"""


async def postgresql_schema(conn: postgres.PostgresConnection) -> set[str]:
    facts: set[str] = set()
    for table, name, pg_type, notnull, default in await conn.execute_fetchall(PG_COLUMNS):
        facts.add(f"table {table}")
        facts.add(column_fact(table, name, PG_FAMILIES.get(pg_type, pg_type), notnull, default))
    checks: dict[str, int] = dict.fromkeys((f.split()[1] for f in facts if f[:6] == "table "), 0)
    for (
        table,
        kind,
        columns,
        parent,
        parent_columns,
        on_delete,
        deferred,
    ) in await conn.execute_fetchall(PG_CONSTRAINTS):
        if kind == "p":
            facts.add(f"primary key {table} ({', '.join(columns)})")
        elif kind == "u":
            facts.add(f"unique {table} ({', '.join(columns)})")
        elif kind == "f":
            facts.add(
                foreign_key_fact(
                    table, columns, parent, parent_columns, PG_ON_DELETE[on_delete], deferred
                )
            )
        elif kind == "c":
            checks[table] += 1
    facts |= {f"checks {table}: {count}" for table, count in checks.items()}
    for table, name, unique, columns, where in await conn.execute_fetchall(PG_INDEXES):
        facts.add(index_fact(table, name, unique, columns, where))
    facts |= {f"trigger {t}.{n}" for t, n in await conn.execute_fetchall(PG_TRIGGERS)}
    return facts


def drift(sqlite: set[str], postgresql: set[str]) -> str:
    """The facts only one engine's schema has, one a line."""
    lines = [f"only in SQLite:     {fact}" for fact in sorted(sqlite - postgresql)]
    lines += [f"only in PostgreSQL: {fact}" for fact in sorted(postgresql - sqlite)]
    return "\n".join(lines)


async def test_sqlite_and_postgresql_migrations_build_the_same_schema(tmp_path, pg_url):
    lite = await dbmod.connect(tmp_path / "drift.sqlite3", SECRET_KEY)
    pg = await postgres.connect(pg_url, SECRET_KEY)
    try:
        await dbmod.migrate(lite)
        await postgres.migrate(pg)
        sqlite, postgresql = await sqlite_schema(lite), await postgresql_schema(pg)
    finally:
        await lite.close()
        await pg.close()
    assert len(sqlite) > 200  # the readers read something
    if difference := drift(sqlite, postgresql):
        pytest.fail(
            "the PostgreSQL migrations (migrations/postgresql/, docs/postgresql.md) build another"
            f" schema than SQLite's; give each SQLite migration its twin:\n{difference}",
            pytrace=False,
        )
