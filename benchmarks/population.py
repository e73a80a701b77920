"""Cached populations for the benchmarks: generated, imported and optionally linked once.

`await prepared_database(count, seed, links=N)` returns the path of a migrated database under
/tmp/dukcapil-bench/ holding `count` residents from the sample generator and, with `links`, N
chats each linked to one random resident (by NIK, or to their household by KK) with reminders
on, so the reminder planners have work. The file name carries the count, the seed, the links and
a hash of the migrations, so a new migration rebuilds it. Callers that change the database work
on a copy (`working_copy`). Building takes about a minute at 1.3 M residents; concurrent callers
wait for one build (a lock file) instead of building twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from bot import db as dbmod
from bot.sample import write_sample
from bot.services.importer import import_residents
from bot.storage.areas import sync_areas

CACHE = Path("/tmp/dukcapil-bench")
# Every benchmark's SECRET_KEY (at least 32 characters): the cached databases are sealed with it.
SECRET_KEY = "bench-key-0123456789abcdef0123456789"
SAMPLE_DAY = date(2026, 11, 24)  # the generator's "today" (ages, recordings)
BUILT_AT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
HOUSEHOLD_SHARE = 0.5  # of the links: a household (KK) rather than one NIK
ENGLISH_SHARE = 0.1  # of the chats


def migrations_hash() -> str:
    """A short hash of every migration file's name and text."""
    digest = hashlib.sha256()
    for path in dbmod.migration_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def cache_path(count: int, seed: int = 1, *, links: int = 0) -> Path:
    """Where the database for these parameters is (or will be) cached."""
    return CACHE / f"pop-{count}-s{seed}-l{links}-k2-{migrations_hash()}.sqlite3"  # k2: the key


def csv_path(count: int, seed: int = 1) -> Path:
    """The cached sample export for `count` residents (generated on first use)."""
    path = CACHE / f"sample-{count}-s{seed}.csv"
    if path.exists():
        return path
    with _lock_file(path) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = path.with_suffix(f".{os.getpid()}.partial")
            write_sample(partial, count, seed=seed, today=SAMPLE_DAY)
            partial.rename(path)
    return path


async def prepared_database(count: int, seed: int = 1, *, links: int = 0) -> Path:
    """The path of a ready, migrated database with the population; built on first use."""
    path = cache_path(count, seed, links=links)
    if path.exists():
        return path
    with _lock_file(path) as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if not path.exists():
            await _build(path, count, seed, links)
    return path


def working_copy(source: Path, folder: Path) -> Path:
    """Copy a cached database (and its WAL, if any) into `folder`; return the copy's path.

    The copy is flushed to disk before it is used: otherwise the kernel writes its hundreds of
    megabytes back while the benchmark runs, and the bot's first checkpoint (an fsync of the
    database file) waits for all of it, which is not what a running bot sees.
    """
    target = folder / source.name
    copies = [(source, target)]
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        copies.append((wal, target.with_name(target.name + "-wal")))
    for original, copy in copies:
        shutil.copy(original, copy)
        with copy.open("rb+") as handle:
            os.fsync(handle.fileno())
    return target


def _lock_file(path: Path) -> TextIO:
    CACHE.mkdir(parents=True, exist_ok=True)
    return (CACHE / f"{path.name}.lock").open("w")


async def _build(path: Path, count: int, seed: int, links: int) -> None:
    partial = path.with_suffix(f".{os.getpid()}.partial")
    for stale in (partial, partial.with_name(partial.name + "-wal")):
        stale.unlink(missing_ok=True)
    sample = await asyncio.to_thread(csv_path, count, seed)
    conn = await dbmod.connect(partial, SECRET_KEY)
    try:
        await dbmod.migrate(conn)
        await sync_areas(conn)
        await import_residents(conn, sample, now=BUILT_AT)
        if links:
            await _link_chats(conn, links, seed)
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await conn.close()
    partial.with_name(partial.name + "-wal").unlink(missing_ok=True)
    partial.with_name(partial.name + "-shm").unlink(missing_ok=True)
    partial.rename(path)


async def _link_chats(conn: dbmod.aiosqlite.Connection, links: int, seed: int) -> None:
    """`links` chats (ids from 10**9), each linked to one random resident or their household."""
    # Lookup hashes straight from the table: a link stores its subject's hash.
    async with conn.execute("SELECT nik_ref, kk_ref FROM residents ORDER BY nik_ref") as cursor:
        people = [tuple(row) async for row in cursor]
    rng = random.Random(seed)
    chosen = rng.sample(people, min(links, len(people)))
    stamp = BUILT_AT.isoformat()
    chats, rows = [], []
    for n, (nik, kk) in enumerate(chosen):
        chat_id = 10**9 + n
        household = rng.random() < HOUSEHOLD_SHARE
        chats.append((chat_id, "en" if rng.random() < ENGLISH_SHARE else "id", stamp))
        rows.append((chat_id, "household" if household else "nik", kk if household else nik, stamp))
    async with dbmod.transaction(conn):
        await conn.executemany(
            "INSERT INTO chats (chat_id, locale, created_at) VALUES (?, ?, ?)", chats
        )
        await conn.executemany(
            "INSERT INTO links (chat_id, kind, subject_ref, consent_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (chat_id, kind, subject_ref) DO NOTHING",
            rows,
        )
