"""Backups of a PostgreSQL database (DATABASE_URL): `pg_dump --format=custom`, and `pg_restore`.

The same rules as SQLite's copies (bot/services/backup.py): one consistent moment (pg_dump reads
one snapshot while the bot goes on writing), a copy cut short never takes the target's name,
files 0600 in folders 0700, checked before they count (`pg_restore` reads the whole copy back),
the nightly copies `dukcapil-YYYY-MM-DD.dump` kept 7 daily and 4 weekly, each outcome recorded
in backup_runs. The copy holds sealed values only; SECRET_KEY is not in it.

DATABASE_URL's password reaches pg_dump and pg_restore through their environment (PGPASSWORD),
never their command line, which every user of the machine can read.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bot.db import make_private_dir, make_private_file
from bot.engine import Connection
from bot.leases import SENDING, Leases
from bot.postgres import PostgresConnection, applied_migrations
from bot.services.backup import BackupRefused, CopyReport, prune, recorded

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
NIGHTLY_NAME = re.compile(r"dukcapil-(\d{4}-\d{2}-\d{2})\.dump")  # other files are left alone


def pg_tool(name: str) -> Path:
    """pg_dump or pg_restore: on PATH, else Debian's newest version's (as tests/pg.py looks)."""
    if found := shutil.which(name):
        return Path(found)
    versions = sorted(
        DEBIAN_BINARIES.glob(f"*/bin/{name}"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise BackupRefused(f"{name} not found (install Debian's postgresql-client)")
    return versions[-1]


async def _run(tool: str, *args: str, url: str | None = None, keep_output: bool = True) -> str:
    """Run a PostgreSQL client program; its output, or BackupRefused with its error."""
    env = dict(os.environ)
    if url is not None:
        params = conninfo_to_dict(url)
        if password := params.pop("password", None):
            env["PGPASSWORD"] = str(password)
        args = (*args, "--dbname", make_conninfo("", **params))
    process = await asyncio.create_subprocess_exec(
        str(pg_tool(tool)),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise BackupRefused(f"{tool} failed: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace") if keep_output else ""


async def backup(url: str, target: Path, *, overwrite: bool = False) -> CopyReport:
    """Dump the database of `url` into `target` (a new file) and check the copy."""
    if not overwrite and await asyncio.to_thread(target.exists):
        raise BackupRefused(f"{target} exists already; choose another name")
    partial = target.with_name(target.name + ".partial")
    await asyncio.to_thread(_private, partial)
    await _run("pg_dump", "--format=custom", "--file", str(partial), url=url)
    report = await check_dump(partial)
    partial.replace(target)
    return CopyReport(
        target, report.size_bytes, report.residents, report.migrations, report.fingerprint
    )


def _private(partial: Path) -> None:
    make_private_dir(partial.parent)
    partial.unlink(missing_ok=True)  # of a copy cut short
    make_private_file(partial)


async def check_dump(path: Path) -> CopyReport:
    """Refuse a file that is not a sound dump of this bot's database; else count what it holds.

    Every table's data is read back (pg_restore to nowhere), as SQLite's integrity_check reads
    every page."""
    if not await asyncio.to_thread(path.is_file):
        raise BackupRefused(f"{path} does not exist")
    listing = await _run("pg_restore", "--list", str(path))
    if "TABLE DATA public residents" not in listing:
        raise BackupRefused(f"{path} is not a dump of this bot's database")
    await _run("pg_restore", "--data-only", "--file", os.devnull, str(path), keep_output=False)
    keys = await _table_rows(path, "vault_key")
    return CopyReport(
        path,
        (await asyncio.to_thread(path.stat)).st_size,
        await _count_rows(path, "residents"),
        len(await dump_migrations(path)),
        keys[0].split("\t")[1] if keys else None,
    )


async def dump_migrations(path: Path) -> set[str]:
    """The names of the migrations the dumped database had."""
    return {line.split("\t")[0] for line in await _table_rows(path, "schema_migrations")}


async def _table_rows(path: Path, table: str) -> list[str]:
    """The lines of a small table's COPY data in the dump (tab-separated text)."""
    text = await _run("pg_restore", "--data-only", "--table", table, "--file", "-", str(path))
    lines = text.split(f"COPY public.{table} ", 1)[-1].splitlines()[1:]
    return lines[: lines.index("\\.")] if "\\." in lines else []


async def _count_rows(path: Path, table: str) -> int:
    """How many rows a large table has in the dump, read as they stream by."""
    process = await asyncio.create_subprocess_exec(
        str(pg_tool("pg_restore")), "--data-only", "--table", table, "--file", "-", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    rows, inside = 0, False
    async for line in process.stdout:
        if line.startswith(b"COPY "):
            inside = True
        elif line == b"\\.\n":
            inside = False
        elif inside:
            rows += 1
    if await process.wait() != 0:
        raise BackupRefused(f"pg_restore could not read {table} from {path}")
    return rows


async def restore(source: Path, db: PostgresConnection, url: str) -> CopyReport:
    """Replace the tables of the database at `url` (open as `db`) by the dump `source`; refused
    while a bot runs on it (a worker holds the sending lease, bot/leases.py).

    Refused for a dump sealed with another key than SECRET_KEY's, and for a database a newer
    version migrated (its newer tables would stay beside the older copy: restore that into a
    new, empty database). One transaction: a failure changes nothing.
    """
    copy = await check_dump(source)
    fingerprint = db.vault.fingerprint
    if copy.fingerprint not in (None, fingerprint):
        raise BackupRefused(
            f"{source} is sealed with key {copy.fingerprint}, but SECRET_KEY is key {fingerprint};"
            " set the SECRET_KEY that was in use when the backup was made"
        )
    if newer := sorted(await applied_migrations(db) - await dump_migrations(source)):
        raise BackupRefused(
            f"the database has migrations the backup lacks ({', '.join(newer)}): restore into a"
            " new, empty database (CREATE DATABASE) and set DATABASE_URL to it"
        )
    leases = await Leases.open(url)
    try:  # held meanwhile: a worker started now stands by until the restore is done
        if not await leases.try_hold(SENDING):
            raise BackupRefused(
                "a bot is running on this database (one of its workers sends the messages);"
                " stop every worker first"
            )
        await _run(
            "pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
            "--no-owner", "--no-privileges", str(source), url=url, keep_output=False,
        )  # fmt: skip
    finally:
        await leases.close()
    return copy


async def nightly_backup(
    db: Connection, url: str, folder: Path, *, day: date, now: datetime
) -> CopyReport:
    """Dump and check `day`'s copy into `folder` (replacing one of the same day), delete the
    copies `to_keep` no longer keeps, and record the outcome in `db`."""
    target = folder / f"dukcapil-{day.isoformat()}.dump"
    copying = backup(url, target, overwrite=True)
    report = await recorded(db, copying, folder=folder, target=target, now=now)
    await asyncio.to_thread(prune, folder, NIGHTLY_NAME)
    return report
