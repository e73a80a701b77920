"""`dukcapil-bot backup` while the bot runs and writes; `restore` into a stopped installation."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading

import pytest

from bot import db as dbmod
from bot.cli import main
from bot.config import Settings
from bot.crypto import Vault
from bot.services import outbox
from bot.services.backup import backup, restore
from tests.conftest import NOW, PEOPLE, SECRET_KEY


def count(path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


# SQLite's `backup` (a copy of the file, its WAL folded in) and `restore`; with DATABASE_URL they
# go through pg_dump and pg_restore: tests/services/test_pg_backup.py.
@pytest.mark.engines("sqlite")
async def test_backup_while_the_bot_runs_and_restore_after_it_stopped(
    running_bot, settings, botapi, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    db = running_bot.bot_data["db"]
    citizen = botapi.user(7801)

    async def keep_writing() -> None:  # the bot goes on working during the copy
        for n in range(200):
            await outbox.enqueue(
                db, key=f"during:{n}", chat_id=citizen.id, kind="staff", text=f"Pesan {n}", now=NOW
            )
            await asyncio.sleep(0)

    copy = tmp_path / "copies" / "dukcapil-2026-11-24.sqlite3"
    writer = asyncio.create_task(keep_writing())
    assert await asyncio.to_thread(main, ["backup", str(copy)]) == 0
    await writer
    out = capsys.readouterr().out
    assert f"backed up to {copy}" in out
    assert f"{len(PEOPLE)} residents" in out
    assert "integrity ok" in out
    assert "Keep SECRET_KEY" in out
    assert count(copy, "residents") == len(PEOPLE)
    assert 0 <= count(copy, "outbox") <= 200  # one consistent moment of a database in use
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no .partial, -wal, -shm

    assert await asyncio.to_thread(main, ["backup", str(copy)]) == 2  # never overwritten
    assert "exists already" in capsys.readouterr().err

    assert await asyncio.to_thread(main, ["restore", str(copy)]) == 2  # the bot runs on it
    assert "stop it first" in capsys.readouterr().err

    elsewhere = tmp_path / "new-server" / "dukcapil.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(elsewhere))
    assert await asyncio.to_thread(main, ["restore", str(copy)]) == 0
    assert f"{len(PEOPLE)} residents" in capsys.readouterr().out
    assert count(elsewhere, "residents") == len(PEOPLE)
    assert count(elsewhere, "users") == 3

    # A backup is readable only with the SECRET_KEY it was sealed with: another is refused.
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "third" / "dukcapil.sqlite3"))
    monkeypatch.setenv("SECRET_KEY", "the key of another installation, long enough")
    assert await asyncio.to_thread(main, ["restore", str(copy)]) == 2
    assert "set the SECRET_KEY that was in use" in capsys.readouterr().err
    assert not (tmp_path / "third" / "dukcapil.sqlite3").exists()


def test_restore_refuses_what_is_not_a_backup(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("not a database")
    assert main(["restore", str(junk)]) == 2
    assert "is not a database of this bot" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "missing.sqlite3")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "db.sqlite3").exists()


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """022: what most servers run with, under which files are 0644 unless the bot says so."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("usual_umask")
async def test_the_database_its_wal_and_backups_are_the_bots_alone(tmp_path):
    folder = tmp_path / "var" / "bot"
    path = folder / "dukcapil.sqlite3"
    conn = await dbmod.connect(path, SECRET_KEY)
    try:
        await dbmod.migrate(conn)  # writes: the WAL and its index exist now
        files = {p.name: mode(p) for p in folder.iterdir()}
        assert files == {
            name: 0o600
            for name in ("dukcapil.sqlite3", "dukcapil.sqlite3-wal", "dukcapil.sqlite3-shm")
        }
        assert (mode(folder), mode(folder.parent)) == (0o700, 0o700)

        copy = tmp_path / "copies" / "dukcapil-2026-11-24.sqlite3"
        await backup(conn, copy)
        assert {p.name: mode(p) for p in copy.parent.iterdir()} == {copy.name: 0o600}
        assert mode(copy.parent) == 0o700  # no .partial, -wal or -shm left beside it
    finally:
        await conn.close()

    restored = tmp_path / "elsewhere" / "dukcapil.sqlite3"
    await restore(copy, restored, fingerprint=Vault.from_secret(SECRET_KEY).fingerprint)
    assert {p.name: mode(p) for p in restored.parent.iterdir()} == {restored.name: 0o600}
    assert mode(restored.parent) == 0o700


@pytest.mark.usefixtures("usual_umask")
async def test_an_older_installations_files_are_narrowed_to_the_bots_user(tmp_path):
    path = tmp_path / "dukcapil.sqlite3"
    old = sqlite3.connect(path)  # made 0644, as before
    old.execute("PRAGMA journal_mode = WAL")
    old.execute("CREATE TABLE t (x)")
    assert mode(path) == 0o644
    conn = await dbmod.connect(path, SECRET_KEY)
    old.close()
    await conn.close()
    assert mode(path) == 0o600


@pytest.mark.usefixtures("usual_umask")
def test_the_generated_secret_key_sits_in_a_private_folder(tmp_path):
    settings = Settings.from_env(
        {"DATABASE_PATH": str(tmp_path / "var" / "db.sqlite3")}, require_token=False
    )
    assert len(settings.secret_key) >= 32
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "secret.key") == 0o600


def test_run_job_backup_writes_todays_copy_and_a_failure_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # BACKUP_DIR's default is var/backups, under the working folder
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "var" / "dukcapil.sqlite3"))
    monkeypatch.delenv("BACKUP_DIR", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["run-job", "backup", "--date", "2026-11-24"]) == 0
    assert "backup 2026-11-24: 0 new messages planned" in capsys.readouterr().out
    copies = tmp_path / "var" / "backups"
    assert [p.name for p in copies.iterdir()] == ["dukcapil-2026-11-24.sqlite3"]
    assert mode(copies / "dukcapil-2026-11-24.sqlite3") == 0o600

    (tmp_path / "not-a-folder").write_text("a file where the folder should be")
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "not-a-folder"))
    assert main(["run-job", "backup", "--date", "2026-11-25"]) == 1
    assert "backup into" in capsys.readouterr().err
    conn = sqlite3.connect(tmp_path / "var" / "dukcapil.sqlite3")
    rows = conn.execute("SELECT ok, file, error FROM backup_runs ORDER BY id").fetchall()
    conn.close()
    assert rows == [(1, "dukcapil-2026-11-24.sqlite3", None), (0, None, "NotADirectoryError")]


async def test_a_copy_under_constant_writes_is_one_moment_not_a_copy_started_over(tmp_path):
    """SQLite's backup copied step by step starts over whenever another connection writes
    between two steps: under a busy bot it ended only once the writes stopped."""
    path, writes = tmp_path / "busy.sqlite3", 20_000
    conn = await dbmod.connect(path, SECRET_KEY)
    try:
        await dbmod.migrate(conn)
        await conn.execute("CREATE TABLE ballast (b BLOB)")  # 16 MB: many steps of 1024 pages
        await conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)"
            " INSERT INTO ballast SELECT randomblob(4000) FROM n"
        )
        await conn.execute("CREATE TABLE ticks (n INTEGER)")
        writing = threading.Event()

        def another_process_writes() -> None:
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("PRAGMA synchronous = OFF")  # a commit every few microseconds
            for n in range(writes):
                other.execute("INSERT INTO ticks VALUES (?)", (n,))
                if n == 100:
                    writing.set()
            other.close()

        writer = threading.Thread(target=another_process_writes)
        writer.start()
        await asyncio.to_thread(writing.wait)
        copy = tmp_path / "copy.sqlite3"
        await backup(conn, copy)
        await asyncio.to_thread(writer.join)
    finally:
        await conn.close()
    assert 100 <= count(copy, "ticks") < writes  # a moment during the writes, not after them
