"""Consistent copies of the database while the bot runs, and putting one back.

SQLite's online backup API copies the database from one read snapshot: writers go on, and the
copy is one consistent moment. The copy holds what the database holds; SECRET_KEY (secret.key)
is not in it and must be kept separately. Copies are single files (no -wal beside them),
readable by the bot's user only (0600, in folders it creates 0700).

The nightly job (bot/jobs/backup.py) writes `dukcapil-YYYY-MM-DD.sqlite3` into BACKUP_DIR,
keeps 7 daily and 4 weekly copies (`to_keep`) and records each outcome; `last_backup` reads it
back for /metrics and the alerts.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import aiosqlite

from bot.db import make_private_dir, make_private_file, transaction
from bot.domain import BackupStatus
from bot.engine import Connection
from bot.storage import backup_runs

log = logging.getLogger(__name__)

# In one step: a copy made step by step starts over whenever another connection writes between
# two steps, so under a busy bot it ended only when the writes stopped. The one step reads one
# WAL snapshot, which holds no writer up (the WAL only grows until the copy is done).
ALL_PAGES = -1
KEEP_DAILY, KEEP_WEEKLY = 7, 4
NIGHTLY_NAME = re.compile(r"dukcapil-(\d{4}-\d{2}-\d{2})\.sqlite3")  # other files are left alone


class BackupRefused(Exception):
    """The backup or restore cannot be done as asked; the message says why (for the CLI)."""


class BackupFailed(Exception):
    """The nightly backup wrote no copy; the failure is recorded, the cause is chained."""


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
        await db.backup(copy, pages=ALL_PAGES)
        # The copy took the database's WAL mode: make it one file, or every reader of it
        # (the check below included) would leave a -wal and -shm beside it.
        await asyncio.to_thread(copy.execute, "PRAGMA journal_mode = DELETE")
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
    await asyncio.to_thread(make_private_file, database_path)
    async with aiosqlite.connect(source) as backup_db, aiosqlite.connect(database_path) as db:
        await backup_db.backup(db)
    return await asyncio.to_thread(check_copy, database_path)


async def nightly_backup(
    db: Connection, database_path: Path, folder: Path, *, day: date, now: datetime
) -> CopyReport:
    """Write and check `day`'s copy into `folder` (replacing one of the same day), delete the
    copies `to_keep` no longer keeps, and record the outcome in `db`.

    The copy is read through a connection of its own, so the bot's queries go on meanwhile.
    """
    target = folder / f"dukcapil-{day.isoformat()}.sqlite3"

    async def copy() -> CopyReport:
        async with aiosqlite.connect(database_path) as source:
            return await backup(source, target, overwrite=True)

    report = await recorded(db, copy(), folder=folder, target=target, now=now)
    for old in await asyncio.to_thread(prune, folder):
        log.info("deleted old backup %s", old.name)
    return report


async def last_backup(db: Connection) -> BackupStatus:
    """When the nightly backup last succeeded and last failed (and why), for /metrics and alerts."""
    return await backup_runs.last_outcomes(db)


async def recorded(
    db: Connection, copying: Awaitable[CopyReport], *, folder: Path, target: Path, now: datetime
) -> CopyReport:
    """Await a nightly copy into `target` and record its outcome in `db` (either engine's
    backup): a failure by its error's class, then raised as BackupFailed; a success by the
    file's name and size."""
    try:
        report = await copying
    except Exception as error:
        async with transaction(db):
            await backup_runs.record_failure(db, error=type(error).__name__, now=now)
        raise BackupFailed(f"backup into {folder} failed: {type(error).__name__}") from error
    async with transaction(db):
        await backup_runs.record_success(
            db, file=target.name, size_bytes=report.size_bytes, now=now
        )
    return report


def prune(folder: Path, pattern: re.Pattern[str] = NIGHTLY_NAME) -> list[Path]:
    """Delete the nightly copies in `folder` (named as `pattern` says, the day its group 1) that
    `to_keep` does not keep; return them."""
    copies = {}
    for path in folder.iterdir():
        if match := pattern.fullmatch(path.name):
            copies[date.fromisoformat(match[1])] = path
    keep = to_keep(list(copies))
    gone = [path for day, path in sorted(copies.items()) if day not in keep]
    for path in gone:
        path.unlink()
    return gone


def to_keep(days: list[date], *, daily: int = KEEP_DAILY, weekly: int = KEEP_WEEKLY) -> set[date]:
    """The copies to keep, by day: the `daily` newest, then the newest of each of the `weekly`
    calendar weeks (Monday to Sunday) before them, as `borg prune` counts: a week whose newest
    copy is kept as a daily one does not count as one of the weeklies."""
    newest_first = sorted(set(days), reverse=True)
    keep = set(newest_first[:daily])
    seen_weeks, weeklies = set(), 0
    for day in newest_first:
        week = day.isocalendar()[:2]
        if week in seen_weeks or weeklies == weekly:
            continue
        seen_weeks.add(week)
        if day not in keep:
            keep.add(day)
            weeklies += 1
    return keep


def _prepare(target: Path, *, overwrite: bool) -> Path:
    if target.exists() and not overwrite:
        raise BackupRefused(f"{target} exists already; choose another name")
    make_private_dir(target.parent)
    partial = target.with_name(target.name + ".partial")
    for leftover in _with_journals(partial):  # of a copy cut short
        leftover.unlink(missing_ok=True)
    make_private_file(partial)
    return partial


def _finish(partial: Path, target: Path) -> CopyReport:
    report = check_copy(partial)
    partial.replace(target)
    for journal in _with_journals(partial)[1:]:
        journal.unlink(missing_ok=True)
    return CopyReport(
        target, report.size_bytes, report.residents, report.migrations, report.fingerprint
    )


def _with_journals(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]


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
