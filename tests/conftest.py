"""Shared fixtures: a fresh database built by running the real migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from bot import db as dbmod
from bot.storage.areas import sync_areas


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A migrated database file with the Kemendagri areas loaded."""
    conn = await dbmod.connect(tmp_path / "test.sqlite3")
    await dbmod.migrate(conn)
    await sync_areas(conn)
    yield conn
    await conn.close()
