"""`dukcapil-bot backup` while the bot runs and writes; `restore` into a stopped installation."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.cli import main
from bot.services import outbox
from tests.conftest import NOW, PEOPLE


def count(path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def test_backup_while_the_bot_runs_and_restore_after_it_stopped(
    running_bot, settings, botapi, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    db = running_bot.bot_data["db"]
    citizen = botapi.user(7801)

    async def keep_writing() -> None:  # the bot goes on working during the copy
        for n in range(200):
            await outbox.enqueue(db, key=f"during:{n}", chat_id=citizen.id, kind="staff",
                                 text=f"Pesan {n}", now=NOW)  # fmt: skip
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
    assert not (copy.parent / (copy.name + ".partial")).exists()

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
    monkeypatch.setenv("SECRET_KEY", "the key of another installation")
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
