"""The inbox several workers handle updates from (bot/services/inbox.py), over both engines:
a chat's updates are held by one worker at a time, in update_id order, and taken over by
another when the holder's claim lapses; bodies are sealed; the heartbeat counts live workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import inbox
from bot.services.inbox import Received
from bot.services.updates import first_time
from bot.storage.inbox import waiting

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
LEASE = timedelta(seconds=8)
NIK = "3505104101900001"


def update(update_id: int, line: int, text: str = "/cek") -> Received:
    return Received(update_id, line, f'{{"update_id": {update_id}, "text": "{text}"}}')


async def test_a_chat_is_held_by_one_worker_in_update_id_order(engine_db):
    await inbox.receive(engine_db, [update(12, 100), update(10, 100), update(11, 200)], now=NOW)

    first = await inbox.claim(engine_db, "a", lines=1, now=NOW, lease=LEASE)
    assert [u.update_id for u in first] == [10, 12]  # the oldest chat, all its updates, in order
    second = await inbox.claim(engine_db, "b", lines=5, now=NOW, lease=LEASE)
    assert [u.update_id for u in second] == [11]  # chat 100 is a's

    await inbox.receive(engine_db, [update(13, 100)], now=NOW)
    assert await inbox.claim(engine_db, "b", lines=5, now=NOW, lease=LEASE) == []
    later = await inbox.claim(engine_db, "a", lines=5, now=NOW, lease=LEASE)
    assert [u.update_id for u in later] == [13]  # a chat's new update goes to its holder


async def test_a_dead_workers_chats_are_taken_over_after_its_lease(engine_db):
    await inbox.receive(engine_db, [update(10, 100), update(11, 100)], now=NOW)
    assert len(await inbox.claim(engine_db, "a", lines=5, now=NOW, lease=LEASE)) == 2
    await inbox.done(engine_db, 10)  # a finished the first, then died

    assert await inbox.claim(engine_db, "b", lines=5, now=NOW + LEASE / 2, lease=LEASE) == []
    taken = await inbox.claim(engine_db, "b", lines=5, now=NOW + LEASE, lease=LEASE)
    assert [u.update_id for u in taken] == [11]


async def test_a_beating_worker_keeps_its_chats(engine_db):
    await inbox.receive(engine_db, [update(10, 100)], now=NOW)
    await inbox.claim(engine_db, "a", lines=5, now=NOW, lease=LEASE)
    alive = timedelta(seconds=6)
    assert await inbox.beat(engine_db, "a", now=NOW + LEASE / 2, lease=LEASE, alive=alive) == 1

    assert await inbox.claim(engine_db, "b", lines=5, now=NOW + LEASE, lease=LEASE) == []


async def test_a_clean_stop_gives_its_chats_up_at_once(engine_db):
    await inbox.receive(engine_db, [update(10, 100)], now=NOW)
    await inbox.claim(engine_db, "a", lines=5, now=NOW, lease=LEASE)
    await inbox.leave(engine_db, "a")

    assert [
        u.update_id for u in await inbox.claim(engine_db, "b", lines=5, now=NOW, lease=LEASE)
    ] == [10]


async def test_an_update_handled_already_is_not_stored_again(engine_db):
    assert await first_time(engine_db, 10, now=NOW)
    await inbox.receive(engine_db, [update(10, 100), update(10, 100), update(11, 100)], now=NOW)
    assert await waiting(engine_db) == 1


async def test_bodies_are_sealed(engine_db):
    await inbox.receive(engine_db, [update(10, 100, NIK)], now=NOW)
    rows = await engine_db.execute_fetchall("SELECT body FROM inbox")
    assert NIK.encode() not in bytes(rows[0][0])
    (claimed,) = await inbox.claim(engine_db, "a", lines=5, now=NOW, lease=LEASE)
    assert NIK in claimed.body


async def test_the_heartbeat_counts_the_workers_seen_lately(engine_db):
    alive = timedelta(seconds=6)
    for name in ("a", "b", "c"):
        await inbox.beat(engine_db, name, now=NOW, lease=LEASE, alive=alive)
    assert await inbox.beat(engine_db, "a", now=NOW + alive, lease=LEASE, alive=alive) == 3
    # c stopped cleanly, b died: only a counts once b's last beat is older than `alive`
    await inbox.leave(engine_db, "c")
    later = NOW + alive + timedelta(seconds=1)
    assert await inbox.beat(engine_db, "a", now=later, lease=LEASE, alive=alive) == 1
