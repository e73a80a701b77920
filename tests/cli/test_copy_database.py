"""`dukcapil-bot copy-database --to postgresql://...`: an office on SQLite moves to PostgreSQL.

The SQLite database is filled by the real bot (a booking, a damage report, a linked chat, a
broadcast, on top of the imported residents and the users of each role), copied with the
command, and compared: every table's rows, sealed values byte for byte.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sqlite3

import psycopg
import pytest

from bot import db as dbmod
from bot import postgres
from bot.cli import main
from bot.jobs.sender import sender_lock
from bot.services.database_copy import (
    OWN_ROWS,
    CopyFailed,
    CopyRefused,
    copy_database,
    parents_first,
)
from bot.services.directory import note_chat
from bot.services.importer import import_residents
from tests.conftest import (
    ADMIN_ID,
    NOW,
    OFFICIAL_ID,
    PEOPLE,
    SECRET_KEY,
    STAFF_ID,
    serve,
    write_population,
)
from tests.e2e.test_booking import book
from tests.e2e.test_broadcast import broadcast
from tests.e2e.test_links import link_with_consent
from tests.e2e.test_tickets import report
from tests.meta.test_schema_drift import postgresql_schema


async def fill_through_the_bot(settings, clock, botapi) -> dict:
    """What an office's database holds after a few days: each flow once, through the bot."""
    conn = await dbmod.connect(settings.database_path, settings.secret_key)
    for role_user in (STAFF_ID, OFFICIAL_ID, ADMIN_ID):
        botapi.user(role_user)
        await note_chat(conn, role_user, locale="id", now=NOW)
    await conn.close()
    async with serve(settings, clock):
        await book(botapi, 7001, "unrecorded", day="2026-11-25")
        await report(botapi, 7002, "recorded", "peeling")
        await link_with_consent(botapi.user(7003))
        _, sent = await broadcast(botapi.user(OFFICIAL_ID), "deadline", "linked")
        assert "Siaran #1" in sent.text
        await botapi.user(7003).next_message()  # the broadcast, delivered
        return await answers(botapi)


def asked() -> dict[str, tuple[int, str]]:
    """What each citizen asks: the one who booked, the one who reported, the one who linked."""
    return {
        "/jadwal": (7001, "/jadwal"),
        "/laporan": (7002, "/laporan"),
        "/cek of the linked": (7003, f"/cek {PEOPLE['turning17'].nik} {PEOPLE['turning17'].kk}"),
        "/cek of the booked": (7001, f"/cek {PEOPLE['unrecorded'].nik} {PEOPLE['unrecorded'].kk}"),
    }


async def answers(botapi) -> dict:
    """The bot's answer to each question of `asked`."""
    said = {}
    for name, (user_id, command) in asked().items():
        botapi.user(user_id).send_text(command)
        said[name] = await botapi.user(user_id).next_message()
    return said


def as_read(messages: dict) -> dict[str, tuple[str, list]]:
    """Each answer's text and buttons; a verified NIK's token (random, new in every /cek answer)
    as `…`."""
    return {
        name: (
            m.html,
            [(label, re.sub(r"^(link:\w+:)[0-9a-f]+$", r"\1…", d)) for label, d in m.buttons],
        )
        for name, m in messages.items()
    }


def sqlite_counts(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def pg_rows(url, sql, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def pg_counts(url, tables) -> dict[str, int]:
    return {t: pg_rows(url, f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}


@pytest.fixture
def office(settings, monkeypatch):
    """The CLI's environment: the office's SQLite database and key."""
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return settings


# The copy starts from SQLite's file whatever --engines says; the bot then runs on the copy,
# on PostgreSQL, within the test.
@pytest.mark.engines("sqlite")
async def test_the_bot_on_the_copy_answers_as_before(
    office, population, clock, botapi, pg_migrated_url, capsys
):
    """Into a database `migrate` prepared (an empty one is migrated by the copy itself)."""
    pg_url = pg_migrated_url
    before = await fill_through_the_bot(office, clock, botapi)
    counts = sqlite_counts(office.database_path)
    assert all(counts[t] > 0 for t in ("residents", "bookings", "tickets", "links", "broadcasts"))

    assert await asyncio.to_thread(main, ["copy-database", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert f"residents: {len(PEOPLE)} rows" in out
    assert "the counts match" in out
    assert pg_url.split("@")[0] not in out  # the password is never echoed
    copied = sorted(set(counts) - OWN_ROWS)
    assert pg_counts(pg_url, copied) == {t: counts[t] for t in copied}
    lite = sqlite3.connect(office.database_path)
    try:
        for table, columns in (
            ("residents", "nik_ref, kk_ref, nik_sealed, nama_sealed, lahir_sealed"),
            ("outbox", "id, text, plan"),
            ("links", "id, subject_ref"),
            ("tickets", "id, nik_ref, number"),
            ("bookings", "id, nik_ref, code"),
            ("conversations", "chat_id, user_id, name, value"),
        ):
            sql = f"SELECT {columns} FROM {table} ORDER BY 1, 2"
            assert pg_rows(pg_url, sql) == lite.execute(sql).fetchall()  # bytes as they were
        fingerprint = lite.execute("SELECT fingerprint FROM vault_key").fetchall()
    finally:
        lite.close()
    assert pg_rows(pg_url, "SELECT fingerprint FROM vault_key") == fingerprint

    async with serve(dataclasses.replace(office, database_url=pg_url), clock):
        assert as_read(await answers(botapi)) == as_read(before)
        # A button of an answer given on SQLite still works: the conversations came along.
        cek = before["/cek of the linked"]
        botapi.user(7003).press(cek, next(d for _, d in cek.buttons if d.startswith("link:kk:")))
        assert "Persetujuan" in (await botapi.user(7003).next_message()).text
    # New rows continue after the copied ids.
    (next_id,) = pg_rows(
        pg_url, "INSERT INTO audit_log (at, action) VALUES ('2026-12-01', 'after') RETURNING id"
    )[0]
    assert next_id > counts["audit_log"]

    # Once more into the same database: refused, and nothing changed.
    filled = pg_counts(pg_url, copied)
    assert await asyncio.to_thread(main, ["copy-database", "--to", pg_url]) == 2
    assert "not empty" in capsys.readouterr().err
    assert pg_counts(pg_url, copied) == filled


async def test_a_database_not_migrated_to_the_newest_version_is_refused(tmp_path, pg_url):
    source = await dbmod.connect(tmp_path / "old.sqlite3", SECRET_KEY)
    target = await postgres.connect(pg_url, SECRET_KEY)
    try:
        await dbmod.migrate(source)
        await source.execute("DELETE FROM schema_migrations WHERE name LIKE '0027%'")
        with pytest.raises(CopyRefused, match="run `dukcapil-bot migrate`"):
            await copy_database(source, target)
        assert pg_rows(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [
            (0,)
        ]
    finally:
        await source.close()
        await target.close()


async def test_a_value_of_another_type_fails_the_copy_and_leaves_the_target_empty(
    db, tmp_path, pg_url
):
    """A lookup hash stored as text (not bytes) is not turned into other bytes: the copy stops,
    rolled back, and names the table."""
    await db.execute(
        "INSERT INTO chats (chat_id, locale, created_at) VALUES (5, 'id', '2026-11-24')"
    )
    await db.execute(
        "INSERT INTO links (chat_id, kind, subject_ref, consent_at)"
        " VALUES (5, 'nik', 'not-bytes', '2026-11-24')"
    )
    target = await postgres.connect(pg_url, SECRET_KEY)
    try:
        with pytest.raises(CopyFailed, match="table links") as caught:
            await copy_database(db, target)
    finally:
        await target.close()
    assert "TypeError" in str(caught.value)  # refused by the column's type, not converted
    assert pg_rows(pg_url, "SELECT count(*) FROM chats") == [(0,)]


async def test_indexes_dropped_for_a_large_tables_load_are_built_again(
    db, tmp_path, pg_url, pg_migrated_url
):
    """With batches of 2 rows every table of more is "large": its plain indexes are dropped for
    the load and built after it; the schema comes out as `migrate` makes it."""
    await import_residents(db, write_population(tmp_path / "siak.csv"), now=NOW)
    target = await postgres.connect(pg_url, SECRET_KEY)
    fresh = await postgres.connect(pg_migrated_url, SECRET_KEY)
    try:
        report = await copy_database(db, target, batch=2)
        assert report.rows["residents"] == len(PEOPLE)
        assert await postgresql_schema(target) == await postgresql_schema(fresh)
    finally:
        await target.close()
        await fresh.close()


def test_tables_are_filled_parents_first():
    parents = {("b", "a"), ("c", "b"), ("c", "a"), ("a", "a")}
    assert parents_first({"a", "b", "c", "d"}, parents) == ["a", "d", "b", "c"]
    with pytest.raises(CopyRefused, match="circle"):
        parents_first({"a", "b"}, {("a", "b"), ("b", "a")})


def test_refused_while_a_bot_runs_on_the_sqlite_database(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "test.sqlite3"))
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    with sender_lock(tmp_path / "test.sqlite3") as mine:  # as the running bot holds it
        assert mine
        assert main(["copy-database", "--to", "postgresql://u:p@127.0.0.1:1/x"]) == 2
    assert "stop it first" in capsys.readouterr().err
    assert main(["copy-database", "--to", "sqlite:///elsewhere"]) == 2
    assert "--to must be postgresql://" in capsys.readouterr().err
