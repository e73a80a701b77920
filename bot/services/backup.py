"""Consistent copies of the database while the bot runs, and putting one back.

SQLite's online backup API copies the database page by page; writers may go on, and the copy is
one consistent moment. The copy holds what the database holds; SECRET_KEY (secret.key) is not in
it and must be kept separately.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

PAGES_PER_STEP = 1024  # copy in steps so the bot's writers are not held up for long


class BackupRefused(Exception):
    """The backup or restore cannot be done as asked; the message says why (for the CLI)."""


@dataclass(frozen=True)
class CopyReport:
    """What a backup or restore copied."""

    path: Path
    size_bytes: int
    residents: int
    migrations: int
    fingerprint: str | None = None  # of the key it is sealed with (bot/crypto.py)


async def backup(db: aiosqlite.Connection, target: Path, *, overwrite: bool = False) -> CopyReport:
    """Copy the open database into `target` (a new file) and check the copy; a copy cut short
    never takes the target's name."""
    partial = await asyncio.to_thread(_prepare, target, overwrite=overwrite)
    copy = sqlite3.connect(partial, check_same_thread=False)  # written from aiosqlite's thread
    try:
        await db.backup(copy, pages=PAGES_PER_STEP, sleep=0.0)
    finally:
        copy.close()
    return await asyncio.to_thread(_finish, partial, target)


async def restore(source: Path, database_path: Path, *, fingerprint: str) -> CopyReport:
    """Replace the database at `database_path` by the backup `source` (the bot must be stopped).

    Refused when the backup is sealed with another key than `fingerprint` (SECRET_KEY's): the
    bot could not read it, so the one that works stays in place.
    """
    copy = await asyncio.to_thread(check_copy, source)
    if copy.fingerprint not in (None, fingerprint):
        raise BackupRefused(
            f"{source} is sealed with key {copy.fingerprint}, but SECRET_KEY is key {fingerprint};"
            " set the SECRET_KEY that was in use when the backup was made"
        )
    await asyncio.to_thread(database_path.parent.mkdir, parents=True, exist_ok=True)
    async with aiosqlite.connect(source) as backup_db, aiosqlite.connect(database_path) as db:
        await backup_db.backup(db)
    return await asyncio.to_thread(check_copy, database_path)


def _prepare(target: Path, *, overwrite: bool) -> Path:
    if target.exists() and not overwrite:
        raise BackupRefused(f"{target} exists already; choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    return partial


def _finish(partial: Path, target: Path) -> CopyReport:
    report = check_copy(partial)
    partial.replace(target)
    return CopyReport(
        target, report.size_bytes, report.residents, report.migrations, report.fingerprint
    )


def check_copy(path: Path) -> CopyReport:
    """Refuse a file that is not a sound database of this bot; else count what it holds."""
    if not path.is_file():
        raise BackupRefused(f"{path} does not exist")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (verdict,) = conn.execute("PRAGMA integrity_check").fetchone()
            migrations = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
            residents = conn.execute("SELECT count(*) FROM residents").fetchone()[0]
            has_key = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'vault_key'"
            ).fetchone()[0]
            key = conn.execute("SELECT fingerprint FROM vault_key").fetchone() if has_key else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupRefused(f"{path} is not a database of this bot ({error})") from None
    if verdict != "ok":
        raise BackupRefused(f"{path} is damaged: {verdict}")
    fingerprint = str(key[0]) if key else None
    return CopyReport(path, path.stat().st_size, int(residents), int(migrations), fingerprint)
