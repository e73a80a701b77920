"""The delivery engine's harder edges: busy databases, slow chats, two senders, erased chats."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import aiosqlite
import pytest
from telegram import Bot

from bot import db as dbmod
from bot.db import vault_of
from bot.engine import open_database
from bot.jobs import sender as sender_module
from bot.jobs.sender import send_batch, sender_lock
from bot.ratelimit import GROUP_MESSAGES, Pacer
from bot.services import outbox
from bot.services.links import erase_chat, link_chat, toggle_reminders, unlink
from bot.storage import outbox as store
from bot.storage.links import list_links
from bot.storage.residents import get_resident, upsert_residents
from tests.conftest import NOW, PEOPLE, TOKEN, serve


@pytest.fixture
async def bot(botapi):
    async with Bot(TOKEN, base_url=botapi.base_url) as bot:
        yield bot


async def plan(db, key, chat_id, *, kind="staff"):
    await outbox.enqueue(
        db, key=key, chat_id=chat_id, kind=kind, text=f"Pesan {key}", now=NOW, quiet=None
    )


async def states(db, prefix):
    async with db.execute(
        "SELECT idempotency_key, state, attempts FROM outbox WHERE idempotency_key LIKE ?"
        " ORDER BY id",
        (f"{prefix}%",),
    ) as cursor:
        return [tuple(row) async for row in cursor]


async def test_outcomes_are_kept_until_the_busy_database_takes_them(db, botapi, bot, monkeypatch):
    citizen = botapi.user(501)
    await plan(db, "r:1", citizen.id)
    real_record, failures = outbox.record_outcomes, []

    async def busy_once(*args, **kwargs):
        if not failures:
            failures.append("locked")
            raise aiosqlite.OperationalError("database is locked")
        await real_record(*args, **kwargs)

    monkeypatch.setattr(outbox, "record_outcomes", busy_once)
    monkeypatch.setattr(sender_module, "RECORD_RETRY_CAP", 0.01)
    assert await send_batch(bot, db, now=NOW, limit=10) == (1, 1)
    assert failures == ["locked"]
    assert await states(db, "r:") == [("r:1", "sent", 1)]  # not left 'sending' to go out twice
    assert len(citizen.inbox) == 1


async def test_a_full_group_does_not_hold_up_everyone_else(db, botapi, bot):
    group, citizen = botapi.group(-100500), botapi.user(502)
    for n in range(GROUP_MESSAGES + 1):
        await plan(db, f"g:{n:02d}", group.id)
    await plan(db, "c:1", citizen.id)
    pacer = Pacer(30)
    started = asyncio.get_running_loop().time()
    claimed, sent = await send_batch(bot, db, now=NOW, limit=30, pacer=pacer)
    assert asyncio.get_running_loop().time() - started < 10  # not the group's 60 s
    assert (claimed, sent) == (GROUP_MESSAGES + 2, GROUP_MESSAGES + 1)
    last = await store.get_message_by_key(db, f"g:{GROUP_MESSAGES:02d}")
    assert last is not None
    assert (last.state, last.attempts) == ("queued", 0)  # back in the queue, untried
    assert last.not_before > NOW + timedelta(seconds=50)  # when the group's minute allows
    assert len(citizen.inbox) == 1


async def test_the_bot_waits_for_run_job_to_finish_sending(settings, population, clock, botapi):
    citizen = botapi.user(503)
    db = await open_database(settings)
    await plan(db, "r:in-flight", citizen.id)
    await outbox.claim_due(db, now=NOW, limit=1)  # run-job is sending this one right now
    await plan(db, "r:next", citizen.id)
    await db.close()
    with sender_lock(settings.database_path) as mine:  # run-job holds the lock
        assert mine
        async with serve(settings, clock) as app:
            await citizen.no_message(within=1.5)  # neither re-queued nor sent alongside
            found = [s for _, s, _ in await states(app.bot_data["db"], "r:")]
            assert found == ["sending", "queued"]
    async with serve(settings, clock) as app:  # the lock is free now
        texts = {(await citizen.next_message()).text for _ in range(2)}
        assert texts == {"Pesan r:in-flight", "Pesan r:next"}


@pytest.fixture
async def linked(db, tmp_path):
    from bot.services.importer import import_residents
    from bot.storage.service_points import seed_service_points
    from tests.conftest import write_population

    await seed_service_points(db)
    report = await import_residents(db, write_population(tmp_path / "siak.csv"), now=NOW)
    assert report.rejected == []
    teen = await get_resident(db, PEOPLE["turning17"].nik)
    assert teen is not None
    await link_chat(db, 601, teen, household=False, now=NOW)
    await link_chat(db, 601, teen, household=True, now=NOW)
    return db, teen


async def held_reminder(db, teen, chat_id, kind="teen"):
    about = (kind, vault_of(db).ref(teen.nik), chat_id, date(2026, 11, 24))
    key = outbox.reminder_key(vault_of(db), *about)
    await outbox.enqueue(
        db,
        key=key,
        chat_id=chat_id,
        kind="reminder",
        text=f"Hai {teen.nama}",
        now=datetime(2026, 11, 24, 14, 0, tzinfo=UTC),  # 21:00 WIB
        plan=outbox.reminder_plan(*about),
    )
    return key


async def test_switching_reminders_off_withdraws_what_waits_for_the_morning(linked):
    db, teen = linked
    key = await held_reminder(db, teen, 601)
    nik_link = next(link for link in await list_links(db, 601) if link.kind == "nik")
    assert await toggle_reminders(db, 601, nik_link.id, now=NOW) is False
    message = await store.get_message_by_key(db, key)
    assert message is not None
    assert message.state == "withdrawn"


async def test_removing_a_household_link_withdraws_its_members_reminders(linked):
    db, teen = linked
    key = await held_reminder(db, teen, 601, kind="deadline")
    household = next(link for link in await list_links(db, 601) if link.kind == "household")
    await unlink(db, 601, household.id, now=NOW)
    message = await store.get_message_by_key(db, key)
    assert message is not None
    assert message.state == "withdrawn"


async def test_erasing_a_chat_withdraws_and_blanks_its_messages(linked):
    db, teen = linked
    waiting = await held_reminder(db, teen, 601)
    await plan(db, "notice:sent", 601)
    [claimed] = await outbox.claim_due(db, now=NOW, limit=1)
    await outbox.mark_sent(db, claimed.id, 77, NOW)
    ids = [(await store.get_message_by_key(db, key)).id for key in (waiting, "notice:sent")]
    await erase_chat(db, 601, 601, now=NOW)
    for message_id, state, key in ((ids[0], "withdrawn", "teen"), (ids[1], "sent", "notice")):
        message = await store.get_message(db, message_id)
        assert message is not None
        assert (message.state, message.text, message.reply_markup_json) == (state, "-", None)
        assert teen.nama not in message.text
        assert (message.chat_id, message.key) == (0, f"{key}:erased:{message_id}")


async def test_a_nik_set_nonaktif_is_dated_by_the_wib_day(db):
    from bot.storage.areas import sync_areas

    await sync_areas(db)
    rudi = PEOPLE["unrecorded"]
    row = (rudi.nik, rudi.kk, "Sari", "1990-01-01", "P", "KAWIN", "3505102001", None, "AKTIF")
    async with dbmod.transaction(db):
        await upsert_residents(db, [row], now=NOW)
    early_morning = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 06:30 WIB on 25 November
    async with dbmod.transaction(db):
        await upsert_residents(db, [(*row[:8], "NONAKTIF")], now=early_morning)
    async with db.execute(
        "SELECT deactivated_on FROM residents WHERE nik_ref = ref_of(?)", (row[0],)
    ) as cur:
        assert (await cur.fetchone())[0] == "2026-11-25"
