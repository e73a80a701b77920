"""The audit log on either engine: an audited action, a refusal recorded on its own, repeats
counted within the hour, nothing deleted (bot/services/audit.py, bot/storage/audit.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import RoleUser
from bot.engine import IntegrityError
from bot.errors import NotStaff
from bot.services.audit import AuditRecord, audit_since, audited, record_audit
from bot.storage.audit import write_repeatable
from bot.storage.chats import ensure_chat, get_locale
from tests.conftest import NOW

ADMIN = RoleUser(9003, "admin", None, None)


async def test_an_audited_action_and_its_record_are_written_together(engine_db):
    async with audited(engine_db, ADMIN, "chat:add", "chat 77", now=NOW):
        await ensure_chat(engine_db, 77, locale="en", now=NOW)
        await record_audit(engine_db, ADMIN, "chat:add", "chat 77", now=NOW)
    assert await get_locale(engine_db, 77) == "en"
    (record,) = await audit_since(engine_db, NOW)
    assert record == AuditRecord(NOW, ADMIN.telegram_id, "chat:add", "chat 77")


async def test_a_refused_action_leaves_only_its_refusal(engine_db):
    async def refused():
        async with audited(engine_db, ADMIN, "chat:add", "chat 77", now=NOW):
            await ensure_chat(engine_db, 77, locale="en", now=NOW)
            raise NotStaff

    with pytest.raises(NotStaff):
        await refused()
    assert await get_locale(engine_db, 77) is None
    (record,) = await audit_since(engine_db, NOW)
    assert (record.action, record.detail) == ("chat:add:refused", "chat 77 refused=NotStaff")


async def test_repeats_within_an_hour_are_counted_on_the_first_record(engine_db):
    for minutes in (0, 10, 20):
        await write_repeatable(
            engine_db, 5, "check:burst", "x", now=NOW + timedelta(minutes=minutes)
        )
    await write_repeatable(engine_db, 5, "check:burst", "x", now=NOW + timedelta(hours=1))
    records = await audit_since(engine_db, NOW)
    assert [(r.at, r.repeats) for r in records] == [(NOW, 2), (NOW + timedelta(hours=1), 0)]


async def test_nothing_is_deleted_from_the_audit_log(engine_db):
    await write_repeatable(engine_db, 5, "check:burst", "x", now=NOW)
    with pytest.raises(IntegrityError, match="append-only"):
        await engine_db.execute("DELETE FROM audit_log")
    assert len(await audit_since(engine_db, NOW)) == 1
