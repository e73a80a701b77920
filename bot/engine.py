"""The connection storage functions take: SQLite's (aiosqlite) or PostgreSQL's (bot/postgres.py).

A storage module annotated with `Connection` runs on both engines (its SQL is the same text on
both, or both texts are side by side); one still annotated `aiosqlite.Connection` is SQLite's
only so far (docs/postgresql.md says how the rest are ported).
"""

from __future__ import annotations

import sqlite3

import psycopg
from aiosqlite import Connection as SQLiteConnection

from bot.postgres import PostgresConnection

Connection = SQLiteConnection | PostgresConnection
# A constraint or a refusing trigger said no, on either engine (`except IntegrityError:`).
IntegrityError = (sqlite3.IntegrityError, psycopg.IntegrityError)


def is_postgresql(db: object) -> bool:
    """Whether `db` speaks PostgreSQL (where a storage function's SQL must differ, both texts sit
    side by side behind this test: docs/postgresql.md)."""
    return not isinstance(db, SQLiteConnection)
