"""PostgreSQL's migrations and connection (bot/postgres.py), on the session's throwaway cluster."""

from __future__ import annotations

import psycopg
import pytest

from bot import db as dbmod
from bot import postgres
from bot.engine import IntegrityError
from tests.conftest import SECRET_KEY


@pytest.fixture
async def pg(pg_url):
    conn = await postgres.connect(pg_url, SECRET_KEY)
    await postgres.migrate(conn)
    yield conn
    await conn.close()


def test_every_sqlite_migration_from_the_baseline_on_has_its_twin():
    sqlite = [path.name for path in dbmod.migration_files()]
    twins = [path.name for path in dbmod.migration_files(postgres.PG_MIGRATIONS_DIR)]
    baseline = postgres.PG_MIGRATIONS_DIR / twins[0]
    assert baseline.read_text(encoding="utf-8").startswith(postgres.BASELINE_MARK)
    assert twins == sqlite[sqlite.index(twins[0]) :]


async def test_migrate_records_sqlites_names_and_is_idempotent(pg):
    rows = await pg.execute_fetchall("SELECT name FROM schema_migrations ORDER BY name")
    assert [name for (name,) in rows] == [path.name for path in dbmod.migration_files()]
    assert await postgres.migrate(pg) == []


async def test_the_key_is_recorded_and_another_one_refused(pg_url, pg):
    rows = await pg.execute_fetchall("SELECT fingerprint FROM vault_key")
    assert rows == [(dbmod.vault_of(pg).fingerprint,)]
    other = await postgres.connect(pg_url, "another-secret-key-of-32-characters-at-least")
    try:
        with pytest.raises(dbmod.WrongSecretKey):
            await postgres.migrate(other)
    finally:
        await other.close()


async def test_a_database_a_newer_bot_migrated_is_refused(pg):
    await pg.execute(
        "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future.sql', 'x')"
    )
    with pytest.raises(dbmod.DatabaseNewer):
        await postgres.migrate(pg)


async def test_audit_log_is_append_only(pg):
    await pg.execute("INSERT INTO audit_log (at, action) VALUES ('2026-01-01', 'x')")
    with pytest.raises(psycopg.errors.IntegrityError, match="append-only"):
        await pg.execute("DELETE FROM audit_log")


async def test_a_ticket_cannot_go_backwards(pg):
    await _resident(pg, "AKTIF", "2026-01-01T00:00:00+00:00")
    await pg.execute(
        "INSERT INTO tickets (number, chat_id, nik_ref, kind, cause, service_point, state,"
        " created_at, updated_at) VALUES ('KR-1', 1, ?, 'damaged', 'chip', 'p', 'ready', 'x', 'x')",
        (REF,),
    )
    with pytest.raises(psycopg.errors.IntegrityError, match="jump states"):
        await pg.execute("UPDATE tickets SET state = 'verified'")
    await pg.execute("UPDATE tickets SET state = 'not_collected'")


REF = bytes(range(32))


async def _resident(conn, status: str, updated_at: str) -> None:
    await conn.execute(
        "INSERT INTO areas (code, dotted_code, level, name, parent_code)"
        " VALUES ('3505', '35.05', 'kabupaten', 'Blitar', '35')"
    )
    await conn.execute(
        "INSERT INTO service_points (code, name, kind, kecamatan_code, address, latitude,"
        " longitude, slot_capacity) VALUES ('p', 'P', 'office', '3505', 'a', 0, 0, 1)"
    )
    await conn.execute(
        "INSERT INTO residents (nik_ref, kk_ref, nik_sealed, kk_sealed, nama_sealed, lahir_sealed,"
        " tahun_lahir, jenis_kelamin, status_kawin, kode_desa, status_nik, updated_at)"
        " VALUES (:ref, :ref, :x, :x, :x, :x, 2000, 'L', 'KAWIN', '3505', :status, :at)",
        {"ref": REF, "x": b"x", "status": status, "at": updated_at},
    )


async def _deactivated_on(conn) -> str | None:
    rows = await conn.execute_fetchall("SELECT deactivated_on FROM residents")
    return rows[0][0]


@pytest.mark.parametrize(
    "updated_at",
    ["2026-05-01T16:59:59+00:00", "2026-05-01T17:00:00+00:00", "2026-05-01 18:30:00", "2026-05-02"],
)
async def test_the_deactivation_day_is_the_one_sqlite_gives(tmp_path, pg, updated_at):
    lite = await dbmod.connect(tmp_path / "lite.sqlite3", SECRET_KEY)
    try:
        await dbmod.migrate(lite)
        expected = []
        for conn in (lite, pg):
            await _resident(conn, "NONAKTIF", updated_at)
            inserted = await _deactivated_on(conn)
            await conn.execute("UPDATE residents SET status_nik = 'AKTIF'")
            reactivated = await _deactivated_on(conn)
            await conn.execute(
                "UPDATE residents SET status_nik = 'NONAKTIF', updated_at = '2027-01-01T20:00:00'"
            )
            expected.append((inserted, reactivated, await _deactivated_on(conn)))
    finally:
        await lite.close()
    assert expected[1] == expected[0]
    assert expected[0][0] is not None


@pytest.mark.parametrize(
    ("sqlite", "psycopg_style"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("UPDATE t SET a = :a WHERE id = :row_id", "UPDATE t SET a = %(a)s WHERE id = %(row_id)s"),
        ("SELECT '?:x%', \"a?\" -- why? :no\nFROM t", "SELECT '?:x%%', \"a?\" -- why? :no\nFROM t"),
        ("SELECT x::text, 5 % 2, 'it''s ?'", "SELECT x::text, 5 %% 2, 'it''s ?'"),
    ],
)
def test_parameters_are_translated_to_psycopgs(sqlite, psycopg_style):
    assert postgres.translate(sqlite) == psycopg_style


@pytest.mark.parametrize(
    ("since", "valid"),
    [("2026-05", True), ("1999-12", True), ("2026-5", False), ("3026-05", False),
     ("2026-05x", False), ("x2026-05", False)],
)  # fmt: skip
async def test_living_elsewheres_month_is_checked_as_sqlites_glob_does(tmp_path, pg, since, valid):
    lite = await dbmod.connect(tmp_path / "lite.sqlite3", SECRET_KEY)
    accepted = []
    try:
        await dbmod.migrate(lite)
        for conn in (lite, pg):
            await _resident(conn, "AKTIF", "2026-01-01T00:00:00+00:00")
            await conn.execute("INSERT INTO chats (chat_id, created_at) VALUES (1, 'x')")
            try:
                await conn.execute(
                    "INSERT INTO living_elsewhere (chat_id, nik_ref, place_kind, place_code,"
                    " since, reported_at) VALUES (1, ?, 'abroad', 'MY', ?, 'x')",
                    (REF, since),
                )
                accepted.append(True)
            except IntegrityError:
                accepted.append(False)
    finally:
        await lite.close()
    assert accepted == [valid, valid]  # SQLite's GLOB, PostgreSQL's regular expression
