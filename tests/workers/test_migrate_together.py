"""Several workers started at once on a new PostgreSQL database: one applies the migrations,
the others find them applied (each would else run the baseline, and all but one fail)."""

from __future__ import annotations

import asyncio

from bot import postgres
from tests.conftest import SECRET_KEY


async def test_workers_starting_together_migrate_once(pg_url):
    conns = [await postgres.connect(pg_url, SECRET_KEY) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(postgres.migrate(conn) for conn in conns))
        names = [path.name for path in postgres.migration_files(postgres.PG_MIGRATIONS_DIR)]
        assert sorted(applied[0] + applied[1] + applied[2]) == names  # each file once
    finally:
        for conn in conns:
            await conn.close()
