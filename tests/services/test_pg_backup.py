"""Backups on PostgreSQL: `backup`/`restore` through pg_dump and pg_restore, and the nightly job's
copies (`dukcapil-YYYY-MM-DD.dump`), on the session's throwaway cluster."""

from __future__ import annotations

import asyncio
import stat
from datetime import date, timedelta

import psycopg
import pytest

from bot import postgres
from bot.cli import main
from bot.clock import FixedClock
from bot.config import Settings
from bot.leases import SENDING, Leases
from bot.services import pg_backup
from bot.services.backup import BackupFailed, last_backup
from bot.services.database_copy import copy_database
from bot.services.importer import import_residents
from tests.conftest import NOW, PEOPLE, SECRET_KEY, write_population
from tests.services.test_nightly_backup import run_backup_job


@pytest.fixture
def pg_url(pg_migrated_url):
    return pg_migrated_url


@pytest.fixture
async def filled(db, tmp_path, pg_url):
    """A PostgreSQL database holding the planted residents (copied from SQLite)."""
    report = await import_residents(db, write_population(tmp_path / "siak.csv"), now=NOW)
    assert report.rejected == []
    target = await postgres.connect(pg_url, SECRET_KEY)
    await copy_database(db, target)
    yield target
    await target.close()


def rows(url, sql) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


RESIDENTS = "SELECT nik_ref, nik_sealed, nama_sealed FROM residents ORDER BY nik_ref"


@pytest.fixture
def other_database(pg_cluster):
    yield pg_cluster.create_database("restored_here")
    pg_cluster.drop_database("restored_here")


async def test_backup_and_restore_with_database_url(
    filled, pg_url, other_database, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "unused.sqlite3"))
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    copy = tmp_path / "copies" / "before-upgrade.dump"
    assert await asyncio.to_thread(main, ["backup", str(copy)]) == 0
    out = capsys.readouterr().out
    assert f"{len(PEOPLE)} residents" in out
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no .partial left
    assert await asyncio.to_thread(main, ["backup", str(copy)]) == 2  # never overwritten
    assert "exists already" in capsys.readouterr().err

    monkeypatch.setenv("DATABASE_URL", other_database)
    running = await Leases.open(other_database)  # as a running worker holds it
    assert await running.try_hold(SENDING)
    assert await asyncio.to_thread(main, ["restore", str(copy)]) == 2
    assert "stop every worker" in capsys.readouterr().err
    await running.close()
    for _ in range(2):  # into an empty database, then over the restored one
        assert await asyncio.to_thread(main, ["restore", str(copy)]) == 0
        assert rows(other_database, RESIDENTS) == rows(pg_url, RESIDENTS)  # bytes as they were
    assert f"{len(PEOPLE)} residents" in capsys.readouterr().out

    monkeypatch.setenv("SECRET_KEY", "another-secret-key-of-32-characters-at-least")
    assert await asyncio.to_thread(main, ["restore", str(copy)]) == 2
    assert "sealed with key" in capsys.readouterr().err


async def test_a_database_newer_than_the_backup_is_not_restored_over(filled, pg_url, tmp_path):
    copy = tmp_path / "old.dump"
    await pg_backup.backup(pg_url, copy)
    await filled.execute(
        "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future.sql', 'x')"
    )
    with pytest.raises(pg_backup.BackupRefused, match=r"9999_future\.sql"):
        await pg_backup.restore(copy, filled, pg_url)


def job_settings(tmp_path, url) -> Settings:
    return Settings.from_env(
        {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "BACKUP_DIR": str(tmp_path / "backups")},
        require_token=False,
    )


async def test_the_nightly_job_dumps_keeps_prunes_and_records(filled, pg_url, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    today = date(2026, 11, 24)  # NOW in WIB
    for back in range(40):  # older nights' dumps, and SQLite copies that stay
        (folder / f"dukcapil-{today - timedelta(days=back + 1)}.dump").touch()
    (folder / "dukcapil-2026-10-01.sqlite3").touch()
    clock = FixedClock(NOW)
    assert await run_backup_job(filled, job_settings(tmp_path, pg_url), clock) == 0
    kept = sorted(p.name for p in folder.iterdir())
    assert len([name for name in kept if name.endswith(".dump")]) == 7 + 4
    assert "dukcapil-2026-10-01.sqlite3" in kept
    status = await last_backup(filled)
    assert status.last_file == "dukcapil-2026-11-24.dump"
    assert status.last_size_bytes == (folder / "dukcapil-2026-11-24.dump").stat().st_size
    assert (await pg_backup.check_dump(folder / status.last_file)).residents == len(PEOPLE)

    elsewhere = job_settings(tmp_path, pg_url.rsplit("/", 1)[0] + "/no_such_database")
    with pytest.raises(BackupFailed):
        await run_backup_job(filled, elsewhere, clock)
    assert (await last_backup(filled)).last_error == "BackupRefused"
