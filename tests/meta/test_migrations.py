import re

from bot import db as dbmod


def test_migration_numbers_are_contiguous():
    numbers = [int(re.match(r"(\d{4})_", p.name).group(1)) for p in dbmod.migration_files()]
    assert numbers == list(range(1, len(numbers) + 1))


async def test_migrate_is_recorded_and_idempotent(db):
    assert await dbmod.migrate(db) == []
    async with db.execute("SELECT count(*) FROM schema_migrations") as cur:
        (count,) = await cur.fetchone()
    assert count == len(dbmod.migration_files())


async def test_areas_loaded(db):
    async with db.execute("SELECT level, count(*) FROM areas GROUP BY level ORDER BY level") as cur:
        counts = dict(await cur.fetchall())
    assert counts == {"desa": 220, "kabupaten": 1, "kecamatan": 22, "kelurahan": 28}


async def test_audit_log_is_append_only(db):
    await db.execute("INSERT INTO audit_log (at, action) VALUES ('2026-01-01', 'x')")
    import sqlite3

    import pytest

    with pytest.raises(sqlite3.IntegrityError):
        await db.execute("DELETE FROM audit_log")
