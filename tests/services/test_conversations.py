"""Conversations kept in the database (issue 15): a round trip through the codec and the seal,
nothing readable in the file, expiry and cleanup, rows bound to their place. What does not read
the SQLite file runs on both engines (`engine_db`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot import db as dbmod
from bot.domain import Booking
from bot.services import conversations as kept
from bot.services.key_rotation import rotate_key
from bot.services.tickets import Attachment
from bot.storage.outbox import block_chat
from tests.conftest import SECRET_KEY

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
NIK, NAME = "3505031002080005", "SITI AMINAH BINTI SUPARDI"
CHAT = USER = 4242
BOOKING = Booking(
    7, "AB12", CHAT, NIK, "rekam", "kec-kanigoro", NOW, date(2026, 11, 25), 3, "pending", None
)
DRAFT = {
    "verified": {"a1b2c3d4": (NIK, NOW)},
    "booking": {"nik": NIK, "moving": BOOKING, "days": {date(2026, 11, 25)}, "start": NOW},
    "report": {"attachment": Attachment("file-1", "photo", "image/jpeg", None), "name": NAME},
    "step": (12, ["bk:ok", "bk:no"]),
    "by_number": {3: "tiga"},
}
FLOW = timedelta(minutes=15)


async def keep(db, loaded=None, *, states=None, user_data=None, chat_data=None, update_id=None):
    await kept.keep(
        db,
        CHAT,
        USER,
        loaded or kept.Kept(),
        states={"booking": (2, FLOW)} if states is None else states,
        user_data=DRAFT if user_data is None else user_data,
        chat_data=chat_data or {},
        update_id=update_id,
        now=NOW,
    )


async def test_states_and_flow_data_come_back_as_they_were(engine_db):
    await keep(engine_db, chat_data={"lang": "en"})
    loaded = await kept.load(engine_db, CHAT, USER, now=NOW + timedelta(minutes=1))
    assert loaded.states == {"booking": 2}
    assert loaded.user_data == DRAFT
    assert loaded.chat_data == {"lang": "en"}
    assert loaded.expired == set()


async def test_another_chat_or_account_sees_none_of_it(engine_db):
    await keep(engine_db)
    other = await kept.load(engine_db, CHAT + 1, USER + 1, now=NOW)
    assert (other.states, other.user_data, other.stored) == ({}, {}, set())
    group = await kept.load(engine_db, -100123, USER, now=NOW)  # the same account in a group
    assert (group.states, group.user_data) == ({}, DRAFT)  # its data, not the chat's state


async def test_no_nik_or_name_is_readable_in_the_table_or_the_file(db, tmp_path):
    await keep(db)
    values = [bytes(v) for (v,) in await db.execute_fetchall("SELECT value FROM conversations")]
    assert len(values) == 2
    for secret in (NIK, NAME, "kec-kanigoro"):
        assert not any(secret.encode() in value for value in values)
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    file = (tmp_path / "test.sqlite3").read_bytes()
    assert NIK.encode() not in file
    assert NAME.encode() not in file


async def test_a_value_moved_to_another_row_does_not_open(engine_db):
    await keep(engine_db)
    await engine_db.execute(
        "UPDATE conversations SET chat_id = ? WHERE name = 'booking'", (CHAT + 1,)
    )
    assert (await kept.load(engine_db, CHAT + 1, USER, now=NOW)).states == {}


async def test_past_the_timeout_a_state_is_expired_and_the_cleanup_leaves_nothing(engine_db):
    await keep(engine_db)
    later = NOW + FLOW
    loaded = await kept.load(engine_db, CHAT, USER, now=later)
    assert (loaded.states, loaded.expired) == ({}, {"booking"})
    assert loaded.user_data == DRAFT  # the draft outlives the state: the timeout may use it
    assert await kept.expired_states(engine_db, now=later) == [(CHAT, USER, "booking")]
    assert await kept.forget_expired(engine_db, now=later) == 1
    assert await kept.forget_expired(engine_db, now=later + kept.DATA_KEPT) == 1
    assert list(await engine_db.execute_fetchall("SELECT * FROM conversations")) == []


async def test_what_the_update_left_replaces_what_it_found(engine_db):
    await keep(engine_db)
    loaded = await kept.load(engine_db, CHAT, USER, now=NOW)
    await keep(engine_db, loaded, states={}, user_data={"verified": {}})  # the flow ended
    again = await kept.load(engine_db, CHAT, USER, now=NOW)
    assert (again.states, again.user_data) == ({}, {"verified": {}})
    await keep(engine_db, again, states={}, user_data={})  # nothing left at all
    assert list(await engine_db.execute_fetchall("SELECT * FROM conversations")) == []


async def test_a_write_back_sends_only_the_statements_it_needs(engine_db, monkeypatch):
    """Rows to write and rows to delete each take a statement, none when there are none: an
    update that leaves data and found none (a /cek answered) deletes nothing (issue 13's burst:
    on PostgreSQL each statement is a round trip)."""
    batches = []
    connection_class = type(engine_db)
    real = connection_class.executemany

    async def counted(self, sql, rows):
        batches.append(sql.split()[0])
        return await real(self, sql, rows)

    monkeypatch.setattr(connection_class, "executemany", counted)
    await keep(engine_db, states={}, user_data={"verified": {}})
    assert batches == ["INSERT"]
    loaded = await kept.load(engine_db, CHAT, USER, now=NOW)
    batches.clear()
    await keep(engine_db, loaded, states={}, user_data={})
    assert batches == ["DELETE"]


async def test_the_rows_and_the_handled_and_blocked_marks_come_in_one_statement(
    engine_db, monkeypatch
):
    """Each update begins with its conversations, whether it was handled already (a
    re-delivery) and whether its chat blocked the bot: one statement reads all three (issue
    13's burst: a round trip each on PostgreSQL)."""
    await keep(engine_db, update_id=555)
    async with dbmod.transaction(engine_db):
        await block_chat(engine_db, CHAT + 1, now=NOW)
    reads = []
    connection_class = type(engine_db)
    real = connection_class.execute_fetchall

    async def counted(self, sql, params=None):
        reads.append(sql)
        return await real(self, sql, params)

    monkeypatch.setattr(connection_class, "execute_fetchall", counted)
    handled = await kept.load(engine_db, CHAT, USER, now=NOW, update_id=555)
    assert (handled.handled, handled.blocked, handled.user_data) == (True, False, DRAFT)
    assert len(reads) == 1
    fresh = await kept.load(engine_db, CHAT, USER, now=NOW, update_id=556)
    assert (fresh.handled, fresh.blocked, fresh.states) == (False, False, {"booking": 2})
    blocked = await kept.load(engine_db, CHAT + 1, USER + 1, now=NOW, update_id=555)
    assert (blocked.handled, blocked.blocked, blocked.states, blocked.user_data) == (
        True,
        True,
        {},
        {},
    )
    assert len(reads) == 3


async def test_the_update_is_recorded_handled_with_what_it_left(engine_db):
    await keep(engine_db, update_id=555)
    assert (await kept.load(engine_db, CHAT, USER, now=NOW, update_id=555)).handled
    assert not (await kept.load(engine_db, CHAT, USER, now=NOW, update_id=556)).handled


def test_the_codec_refuses_what_it_would_not_bring_back():
    with pytest.raises(TypeError, match="cannot keep a object"):
        kept.encode({"x": object()})
    assert kept.decode(kept.encode({"$odd": (1, 2)})) == {"$odd": (1, 2)}


async def test_a_key_rotation_seals_them_again(db, tmp_path):
    await keep(db)
    await rotate_key(db, "a-new-secret-key-of-the-office-2027", now=NOW)
    assert (await kept.load(db, CHAT, USER, now=NOW)).user_data == DRAFT
    fresh = await dbmod.connect(tmp_path / "test.sqlite3", SECRET_KEY)  # the old key
    try:
        assert (await kept.load(fresh, CHAT, USER, now=NOW)).user_data == {}
    finally:
        await fresh.close()
