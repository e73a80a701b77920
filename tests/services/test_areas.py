"""The Kemendagri regions (bot/storage/areas.py) on both engines."""

from __future__ import annotations

from bot.domain import Area
from bot.storage.areas import get_area, list_children, list_kecamatan, sync_areas, village_codes


async def test_regions_are_loaded_and_found_by_either_code(engine_db):
    read = await sync_areas(engine_db)
    assert await sync_areas(engine_db) == read  # again: updated in place, nothing added
    rows = await engine_db.execute_fetchall("SELECT count(*) FROM areas")
    assert rows[0][0] == read
    kanigoro = Area("350510", "35.05.10", "kecamatan", "Kanigoro", "3505")
    assert await get_area(engine_db, "35.05.10") == kanigoro
    assert await get_area(engine_db, "350510") == kanigoro
    assert await get_area(engine_db, "35.05.99") is None
    kecamatan = await list_kecamatan(engine_db)
    assert await list_children(engine_db, "3505") == kecamatan
    assert kanigoro in kecamatan
    assert [a.code for a in kecamatan] == sorted(a.code for a in kecamatan)
    desa = await list_children(engine_db, "35.05.10")
    assert desa
    assert {a.level for a in desa} <= {"desa", "kelurahan"}
    assert {a.code for a in desa} <= await village_codes(engine_db)
