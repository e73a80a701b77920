"""Cached populations for the benchmarks: generated, imported and optionally linked once.

`await prepared_database(count, seed, links=N)` returns the path of a migrated database under
/tmp/dukcapil-bench/ holding `count` residents from the sample generator and, with `links`, N
chats each linked to one random resident (by NIK, or to their household by KK) with reminders
on, so the reminder planners have work. The file name carries the count, the seed, the links and
a hash of the migrations, so a new migration rebuilds it. Callers that change the database work
on a copy (`working_copy`). Building takes about a minute at 1.3 M residents; concurrent callers
wait for one build (a lock file) instead of building twice.

Both engines (`--engine sqlite|postgresql`): `bench_database(engine, count, seed, links=N)`
yields a `Database` with the population, for the bot's settings (`env`: DATABASE_PATH, or
DATABASE_URL) and to open (`open()`: bot.engine.open_database). On PostgreSQL it is a throwaway
cluster of the benchmark's own (tests/pg.py's Cluster: never a server it did not start) started
on a copy of a cached data folder under /tmp/dukcapil-bench/, built the same way the first time.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import itertools
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.pg: the throwaway cluster

from bot import db as dbmod
from bot import engine as enginemod
from bot.config import Settings
from bot.crypto import Vault
from bot.sample import SamplePart, generate_part, sample_parts, write_sample
from bot.services.importer import import_residents
from bot.storage import residents
from bot.storage.areas import sync_areas
from tests.pg import Cluster

CACHE = Path("/tmp/dukcapil-bench")
# Every benchmark's SECRET_KEY (at least 32 characters): the cached databases are sealed with it.
SECRET_KEY = "bench-key-0123456789abcdef0123456789"
SAMPLE_DAY = date(2026, 11, 24)  # the generator's "today" (ages, recordings)
BUILT_AT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
HOUSEHOLD_SHARE = 0.5  # of the links: a household (KK) rather than one NIK
ENGLISH_SHARE = 0.1  # of the chats
ENGINES = ("sqlite", "postgresql")
# The benchmarks' PostgreSQL: durable (fsync, full pages: not the tests' settings), commits
# acknowledged before their WAL is flushed (as SQLite's WAL with synchronous=NORMAL, the bot's),
# a quarter GiB of shared buffers; otherwise Debian's defaults.
PG_OPTIONS = ("synchronous_commit=off", "shared_buffers=256MB", "max_wal_size=4GB")
DBNAME = "dukcapil"


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
    if links:  # the population without links, copied, and the links added
        await asyncio.to_thread(shutil.copy, await prepared_database(count, seed), partial)
    conn = await dbmod.connect(partial, SECRET_KEY)
    try:
        if links:
            await _link_chats(conn, links, seed)
        else:
            await dbmod.migrate(conn)
            await sync_areas(conn)
            sample = await asyncio.to_thread(csv_path, count, seed)
            await import_residents(conn, sample, now=BUILT_AT)
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await conn.close()
    partial.with_name(partial.name + "-wal").unlink(missing_ok=True)
    partial.with_name(partial.name + "-shm").unlink(missing_ok=True)
    partial.rename(path)


async def _link_chats(conn: enginemod.Connection, links: int, seed: int) -> None:
    """`links` chats (ids from 10**9), each linked to one random resident or their household."""
    # Lookup hashes straight from the table: a link stores its subject's hash.
    async with conn.execute("SELECT nik_ref, kk_ref FROM residents ORDER BY nik_ref") as cursor:
        people = [(bytes(nik), bytes(kk)) for nik, kk in await cursor.fetchall()]
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


@dataclass
class Database:
    """A benchmark's database on one engine: `env` for the bot's settings, `open()` for us."""

    engine: str
    env: dict[str, str]
    path: Path | None = None  # SQLite's file
    cluster: Cluster | None = None  # PostgreSQL's server
    settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        self.settings = Settings.from_env(
            {**self.env, "SECRET_KEY": SECRET_KEY}, require_token=False
        )

    async def open(self) -> enginemod.Connection:
        """The database as the bot opens it (PostgreSQL: a pool of DATABASE_POOL_SIZE)."""
        return await enginemod.open_database(self.settings)

    def size_mb(self) -> float:
        """The database's size on disk: the SQLite file (and WAL), or pg_database_size."""
        if self.cluster is not None:
            import psycopg

            with psycopg.connect(self.cluster.socket_dsn(DBNAME)) as conn:
                row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            return int(row[0] if row else 0) / 2**20
        assert self.path is not None
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def engine_argument(parser: object) -> None:
    """`--engine sqlite|postgresql` on a script's argparse parser."""
    parser.add_argument(  # type: ignore[attr-defined]
        "--engine", choices=ENGINES, default="sqlite", help="the database engine (default sqlite)"
    )


@asynccontextmanager
async def empty_database(engine: str, folder: Path) -> AsyncIterator[Database]:
    """An empty, unmigrated database: a new file in `folder`, or a new cluster's database."""
    if engine == "sqlite":
        path = folder / "bench.sqlite3"
        yield Database(engine, {"DATABASE_PATH": str(path)}, path=path)
        return
    cluster = await asyncio.to_thread(Cluster.start, options=PG_OPTIONS)
    try:
        url = await asyncio.to_thread(cluster.create_database, DBNAME)
        yield Database(engine, {"DATABASE_URL": url}, cluster=cluster)
    finally:
        await asyncio.to_thread(cluster.stop)


@asynccontextmanager
async def bench_database(
    engine: str, count: int, seed: int = 1, *, links: int = 0, folder: Path
) -> AsyncIterator[Database]:
    """The population on `engine`, a copy of the cache the benchmark may change."""
    if engine == "sqlite":
        path = working_copy(await prepared_database(count, seed, links=links), folder)
        yield Database(engine, {"DATABASE_PATH": str(path)}, path=path)
        return
    data = await prepared_cluster(count, seed, links=links)
    cluster = await asyncio.to_thread(Cluster.start, data=data, options=PG_OPTIONS)
    try:
        yield Database(engine, {"DATABASE_URL": cluster.url(DBNAME)}, cluster=cluster)
    finally:
        await asyncio.to_thread(cluster.stop)


def cluster_path(count: int, seed: int = 1, *, links: int = 0) -> Path:
    """Where the PostgreSQL population is cached: also named by its engine's migrations."""
    digest = hashlib.sha256()
    for migration in sorted(Path(__file__).resolve().parents[1].glob("migrations/postgresql/*")):
        digest.update(migration.name.encode() + b"\0" + migration.read_bytes())
    return cache_path(count, seed, links=links).with_suffix(f".pg{digest.hexdigest()[:8]}")


async def prepared_cluster(count: int, seed: int = 1, *, links: int = 0) -> Path:
    """A stopped PostgreSQL cluster's data folder holding the population (in database
    `dukcapil`), migrated by bot/postgres.py; built on first use, as `prepared_database`."""
    path = cluster_path(count, seed, links=links)
    if path.exists():
        return path
    with _lock_file(path) as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if not path.exists():
            await _build_cluster(path, count, seed, links)
    return path


async def _build_cluster(path: Path, count: int, seed: int, links: int) -> None:
    """The population without links is imported; with links, a copy of it gets them."""
    if links:
        data = await prepared_cluster(count, seed)
        cluster = await asyncio.to_thread(Cluster.start, data=data, options=PG_OPTIONS)
    else:
        cluster = await asyncio.to_thread(Cluster.start, options=PG_OPTIONS)
    try:
        if links:
            url = cluster.url(DBNAME)
        else:
            url = await asyncio.to_thread(cluster.create_database, DBNAME)
        from bot import postgres

        conn = await postgres.connect(url, SECRET_KEY)
        try:
            if links:
                await _link_chats(conn, links, seed)
            else:
                await enginemod.migrate(conn)
                await sync_areas(conn)
                if count >= PARTS_FROM:
                    await _import_parts(conn, count, seed)
                else:
                    sample = await asyncio.to_thread(csv_path, count, seed)
                    await import_residents(conn, sample, now=BUILT_AT)
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
    except BaseException:
        await asyncio.to_thread(cluster.stop)
        raise
    partial = path.with_suffix(f".{os.getpid()}.partial")
    await asyncio.to_thread(shutil.rmtree, partial, ignore_errors=True)
    await asyncio.to_thread(cluster.keep, partial)
    partial.rename(path)


# --- populations beyond a regency (issue 15: 13 M residents on PostgreSQL) ---------------------
#
# From PARTS_FROM residents on, a PostgreSQL population is not written to a CSV export and
# imported: `sample_parts` splits it by kecamatan, a pool of processes (one per core, started
# fresh: "spawn") generates each part and seals it there (bot.storage.residents.copy_text: the
# key stays in Python, the server gets sealed values and lookup hashes as from the importer),
# writing COPY text to a file, while this process streams the finished parts into one COPY in
# the import's transaction (`bulk_load`: indexes rebuilt after, then ANALYZE). The rows are
# valid by construction, so the importer's CSV checks are skipped (import_residents.py measures
# those). Smaller populations keep the one random stream of `write_sample`, so the figures of
# earlier runs at 1.3 M stay comparable; a parted population is another sample of the same
# shares.
PARTS_FROM = 2_000_000
PART_BATCH = 20_000  # rows sealed and written at a time in a worker
COPY_BLOCK = 4 << 20  # bytes read from a part's file per COPY write


async def _import_parts(conn: enginemod.Connection, count: int, seed: int) -> None:
    """The population of `sample_parts`, generated and sealed in a process pool, then COPYed."""
    from bot.postgres import Statements

    assert isinstance(conn, Statements)
    loop = asyncio.get_running_loop()
    parts = sample_parts(count, seed=seed)
    spawn = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="parts-", dir=CACHE) as folder,
        ProcessPoolExecutor(os.cpu_count() or 1, mp_context=spawn) as pool,
    ):
        made = [loop.run_in_executor(pool, _seal_part, part, seed, folder) for part in parts]
        try:
            async with dbmod.transaction(conn), residents.bulk_load(conn) as fresh:
                assert fresh, "the population's table was not empty"
                await conn.execute("SET LOCAL maintenance_work_mem = '1GB'")  # index builds
                await residents.copy_residents(conn, _part_blocks(made))
        finally:
            for future in made:
                future.cancel()


async def _part_blocks(made: list[asyncio.Future[str]]) -> AsyncIterator[bytes]:
    """The parts' COPY text in part order, each file deleted once sent."""
    for future in made:
        path = Path(await future)
        handle = await asyncio.to_thread(path.open, "rb")
        with handle:
            while block := await asyncio.to_thread(handle.read, COPY_BLOCK):
                yield block
        await asyncio.to_thread(path.unlink)


def _seal_part(part: SamplePart, seed: int, folder: str) -> str:
    """In a pool's process: one part generated and sealed into a file of COPY text."""
    vault = Vault.from_secret(SECRET_KEY)
    rows = (_resident_row(row) for row in generate_part(part, seed=seed, today=SAMPLE_DAY))
    path = Path(folder) / f"part-{part.index:03d}.copy"
    with path.open("wb") as out:
        while batch := list(itertools.islice(rows, PART_BATCH)):
            out.write(residents.copy_text(vault, batch, now=BUILT_AT))
    return str(path)


def _resident_row(row: dict[str, str]) -> residents.ResidentRow:
    """A generated row as the importer's checks leave it (only an empty date becomes None)."""
    nik, no_kk, nama, lahir, jk, kawin, desa, rekam, status = row.values()
    return (nik, no_kk, nama, lahir, jk, kawin, desa, rekam or None, status)
