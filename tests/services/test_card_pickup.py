"""The card-pickup job: reminders 7 days and 1 day before a ready card's pick-up deadline, once
each; after the deadline the ticket becomes not collected, the citizen is told what to do, and
staff see it in their list with the hand-over still possible."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest

from bot import db as dbmod
from bot.config import Settings
from bot.db import transaction
from bot.jobs.registry import JOB_NAMES, job_spec, run_planner, scheduled_at
from bot.rendering import Renderer
from bot.services import tickets
from bot.services.importer import import_residents
from bot.services.roles import add_user
from bot.storage import chats
from bot.storage import tickets as ticket_store
from bot.storage.areas import sync_areas
from bot.storage.service_points import seed_service_points
from tests.conftest import NOW, PEOPLE, SECRET_KEY, TOKEN, write_population
from tests.desk import CHAT, KANIGORO, db_of_each_engine, desk
from tests.services.test_reminder_planners import outbox_rows
from tests.services.test_tickets import advance, report_damaged, report_lost

__all__ = ["db_of_each_engine", "desk"]  # the fixtures: `desk` on each engine in turn

DEADLINE = date(2026, 12, 24)  # ready on 24 November (NOW) + 30 days


@pytest.fixture
async def pickup(desk, tmp_path):
    """A damaged card ready at Kanigoro until DEADLINE; returns (db, renderer, settings, ticket)."""
    ticket = await advance(desk, await report_damaged(desk), "ready")
    assert ticket.ready_until == DEADLINE
    settings = Settings.from_env(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "x.sqlite3"), "SECRET_KEY": SECRET_KEY}
    )
    return desk, Renderer(), settings, ticket


async def run(world, day):
    db, renderer, settings, _ = world
    spec = job_spec("card-pickup")
    at = spec.times[0]
    moment = scheduled_at(day, at)
    return await run_planner(
        spec, at, db=db, renderer=renderer, settings=settings, day=day, now=moment
    )


def test_card_pickup_is_a_job():
    assert "card-pickup" in JOB_NAMES


async def test_reminded_7_days_and_1_day_before_once_each(pickup):
    db, _, _, ticket = pickup
    sent_on = {}
    day = date(2026, 11, 25)
    while day <= DEADLINE:
        for _ in range(2):  # a re-run of the same day plans nothing twice
            await run(pickup, day)
        for row in await outbox_rows(db, "ticket:"):
            sent_on.setdefault(row["key"], day)
        day += timedelta(days=1)
    assert sent_on == {
        f"ticket:{ticket.id}:pickup-7": DEADLINE - timedelta(days=7),
        f"ticket:{ticket.id}:pickup-1": DEADLINE - timedelta(days=1),
    }
    eve, week = await outbox_rows(db, f"ticket:{ticket.id}:pickup-")
    assert (eve["key"], week["key"]) == (
        f"ticket:{ticket.id}:pickup-1",
        f"ticket:{ticket.id}:pickup-7",
    )
    assert {week["chat"], eve["chat"], week["kind"]} == {CHAT, "reminder"}
    assert "24 Desember 2026" in week["text"]
    assert "7 hari lagi" in week["text"]
    assert "Besok" in eve["text"]
    assert "KTP lama yang rusak" in eve["text"]
    assert ticket.number in week["text"]
    assert all(
        p.nik not in row["key"] + row["text"] for p in PEOPLE.values() for row in (week, eve)
    )
    assert (await tickets.staff_ticket(db, ticket.id, staff=KANIGORO)).state == "ready"


async def test_a_missed_day_is_caught_up_with_the_nearer_reminder_only(pickup):
    db, _, _, ticket = pickup
    await run(pickup, date(2026, 12, 10))
    await run(pickup, date(2026, 12, 23))  # down from 11 to 22 December: one catch-up week
    assert [row["key"] for row in await outbox_rows(db, "ticket:")] == [
        f"ticket:{ticket.id}:pickup-1"
    ]


async def test_after_the_deadline_not_collected_and_the_citizen_told_what_to_do(pickup):
    db, _, _, ticket = pickup
    await run(pickup, DEADLINE)
    assert (await tickets.staff_ticket(db, ticket.id, staff=KANIGORO)).state == "ready"
    async with transaction(db):
        await chats.set_locale(
            db, CHAT, "en", now=scheduled_at(DEADLINE, job_spec("card-pickup").times[0])
        )
    for _ in range(2):
        await run(pickup, DEADLINE + timedelta(days=1))
    moved = await tickets.staff_ticket(db, ticket.id, staff=KANIGORO)
    assert moved.state == "not_collected"
    (notice,) = await outbox_rows(db, f"ticket:{ticket.id}:not-collected")
    assert notice["chat"] == CHAT
    assert "not collected" in notice["text"]
    assert "24 December 2026" in notice["text"]
    assert "come during office hours" in notice["text"]
    assert "old damaged card" in notice["text"]
    _, events = await tickets.ticket_for_chat(db, ticket.number, CHAT)
    assert [(e.state, e.actor_id) for e in events[-2:]] == [
        ("ready", KANIGORO.telegram_id),
        ("not_collected", None),
    ]
    async with db.execute(
        "SELECT actor_id, detail FROM audit_log WHERE action = 'tickets:not_collected'"
    ) as cursor:
        rows = await cursor.fetchall()
    assert [tuple(r) for r in rows] == [
        (
            None,
            f"ticket={ticket.id} number={ticket.number} point=kanigoro"
            " ready->not_collected until=2026-12-24",
        )
    ]


async def test_a_card_not_collected_can_still_be_handed_over(pickup):
    db, _, _, ticket = pickup
    await run(pickup, DEADLINE + timedelta(days=40))  # a first run long after: still expired
    open_ones = await tickets.open_tickets_for_point(db, staff=KANIGORO)
    assert [(t.id, t.state) for t in open_ones] == [(ticket.id, "not_collected")]
    assert tickets.next_state("not_collected") == "handed_over"
    assert not tickets.can_reject("not_collected")
    handed = await tickets.hand_over(
        db,
        ticket.id,
        staff=KANIGORO,
        now=scheduled_at(DEADLINE + timedelta(days=41), job_spec("card-pickup").times[0]),
    )
    assert handed.state == "handed_over"


async def test_a_lost_card_notice_names_the_police_report(desk, tmp_path):
    ticket = await advance(desk, await report_lost(desk), "ready")
    settings = Settings.from_env(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "x.sqlite3"), "SECRET_KEY": SECRET_KEY}
    )
    await run((desk, Renderer(), settings, ticket), DEADLINE + timedelta(days=1))
    (notice,) = await outbox_rows(desk, "ticket:")
    assert "belum diambil" in notice["text"]
    assert "surat keterangan kehilangan" in notice["text"]


async def test_migration_0017_keeps_every_ticket_event_and_received_card(tmp_path):
    before = tmp_path / "before"
    before.mkdir()
    # Every migration but 0017: the storage code this test calls to fill the old database reads
    # the columns of later migrations (0018's service point contact), which do not touch tickets.
    for path in dbmod.migration_files():
        if not path.name.startswith("0017"):
            shutil.copy(path, before / path.name)
    conn = await dbmod.connect(tmp_path / "old.sqlite3", SECRET_KEY)
    try:
        await dbmod.migrate(conn, before)
        await sync_areas(conn)
        await seed_service_points(conn)
        await import_residents(conn, write_population(tmp_path / "siak.csv"), now=NOW)
        await add_user(
            conn, KANIGORO.telegram_id, "staff", service_point="kanigoro", area=None, now=NOW
        )
        done = await advance(conn, await report_damaged(conn, "recorded"), "handed_over")
        ready = await advance(conn, await report_lost(conn, "mother"), "ready")
        counts = [await _count(conn, t) for t in ("tickets", "ticket_events", "received_cards")]
        assert counts == [2, 9, 1]
        assert (await dbmod.migrate(conn))[:1] == ["0017_ticket_not_collected.sql"]
        assert [await _count(conn, t) for t in ("tickets", "ticket_events", "received_cards")] == (
            counts
        )
        assert (await tickets.staff_ticket(conn, done.id, staff=KANIGORO)).state == "handed_over"
        async with transaction(conn):
            assert await ticket_store.set_state_if(
                conn, ready.id, from_states=("ready",), to_state="not_collected", now=NOW
            )
        async with conn.execute("PRAGMA foreign_key_check") as cursor:
            assert await cursor.fetchall() == []
    finally:
        await conn.close()


async def _count(db, table):
    async with db.execute(f"SELECT count(*) FROM {table}") as cursor:
        (n,) = await cursor.fetchone()
    return n
