"""The destruction register: batches of received damaged cards, counted once each (on both
engines)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.engine import IntegrityError
from bot.errors import NotAdmin
from bot.services.destruction import (
    Batch,
    CardsNotWaiting,
    DestructionSummary,
    InvalidBatch,
    NothingToDestroy,
    destruction_summary,
    parse_batch_date,
    record_batch,
)
from tests.conftest import NOW
from tests.desk import ADMIN, KANIGORO, OFFICIAL, desk
from tests.services.test_tickets import db, handed_over, report_damaged

__all__ = ["db", "desk"]  # the fixtures (db: each engine in turn)

TODAY = date(2026, 11, 24)  # NOW in WIB


@pytest.fixture
async def received(desk):
    """Three damaged cards handed in; one lost-card replacement (no card received)."""
    cards = [await handed_over(desk, who) for who in ("recorded", "mother", "unrecorded")]
    lost = await handed_over(desk, "child", kind="lost")
    return desk, [c.number for c in cards], lost.number


async def _batch(db, numbers=None, *, day=TODAY, admin=ADMIN, method="dibakar", witnesses="A, B"):
    return await record_batch(
        db,
        admin=admin,
        destroyed_on=day,
        method=method,
        witnesses=witnesses,
        ticket_numbers=numbers,
        now=NOW,
    )


async def _register(db):
    async with db.execute("SELECT ticket_id, batch_id FROM received_cards ORDER BY id") as cur:
        cards = [tuple(r) for r in await cur.fetchall()]
    async with db.execute("SELECT count(*) FROM destruction_batches") as cur:
        (batches,) = await cur.fetchone()
    return cards, batches


async def _audit_rows(db):
    query = "SELECT actor_id, action, detail FROM audit_log WHERE action LIKE 'destruction:%'"
    async with db.execute(query + " ORDER BY id") as cursor:
        return [tuple(row) async for row in cursor]


async def test_a_batch_of_every_waiting_card(received):
    db, _, _ = received
    batch = await _batch(db)
    assert batch == Batch(batch.id, TODAY, "dibakar", "A, B", 3)
    summary = await destruction_summary(db)
    assert summary == DestructionSummary(waiting=0, batches=[batch], per_year={2026: 3})
    assert await _audit_rows(db) == [
        (
            ADMIN.telegram_id,
            "destruction:batch",
            f"batch={batch.id} destroyed_on=2026-11-24 named=all_waiting cards=3",
        ),
    ]


async def test_a_batch_of_named_cards_only(received):
    db, numbers, _ = received
    batch = await _batch(db, [numbers[0], f" {numbers[2].lower()} ", numbers[0]])
    assert batch.card_count == 2
    summary = await destruction_summary(db)
    assert summary.waiting == 1
    assert summary.per_year == {2026: 2}


async def test_naming_an_already_destroyed_card_refuses_the_whole_batch(received):
    db, numbers, _ = received
    await _batch(db, [numbers[0]])
    before = await _register(db)
    with pytest.raises(CardsNotWaiting) as caught:
        await _batch(db, [numbers[1], numbers[0]])
    assert caught.value.context == {"kind": "not_waiting", "numbers": [numbers[0]]}
    assert caught.value.template == "admin/destruction_error.html"
    assert await _register(db) == before
    assert (await destruction_summary(db)).waiting == 2
    assert (await _audit_rows(db))[-1][1:] == (
        "destruction:batch:refused",
        "destroyed_on=2026-11-24 named=2 refused=CardsNotWaiting",
    )


async def test_naming_a_lost_card_or_an_unknown_number_is_refused(received):
    db, numbers, lost = received
    before = await _register(db)
    with pytest.raises(CardsNotWaiting) as caught:
        await _batch(db, [numbers[0], lost, "KR-AAAAAA"])
    assert caught.value.context["numbers"] == sorted([lost, "KR-AAAAAA"])
    assert await _register(db) == before


async def test_nothing_to_destroy(received):
    db, _, _ = received
    await _batch(db)
    before = await _register(db)
    with pytest.raises(NothingToDestroy) as caught:
        await _batch(db)
    assert caught.value.context == {"kind": "nothing"}
    with pytest.raises(NothingToDestroy):
        await _batch(db, ["  ", ""])
    assert await _register(db) == before


async def test_per_batch_and_per_year_counts_count_each_card_once(desk):
    long_ago = datetime(2025, 12, 1, 3, 0, tzinfo=UTC)  # received in 2025
    first = [await handed_over(desk, who, now=long_ago) for who in ("recorded", "mother")]
    batch_2025 = await _batch(desk, [first[0].number], day=date(2025, 12, 30))
    batch_2026a = await _batch(desk, day=date(2026, 1, 5))  # the other waiting one
    in_february = datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
    later = [
        await handed_over(desk, who, now=in_february)
        for who in ("unrecorded", "deactivated", "child")
    ]
    batch_2026b = await _batch(desk, [later[0].number, later[1].number], day=date(2026, 3, 1))
    summary = await destruction_summary(desk)
    assert [(b.id, b.card_count) for b in summary.batches] == [
        (batch_2025.id, 1),
        (batch_2026a.id, 1),
        (batch_2026b.id, 2),
    ]
    assert summary.per_year == {2025: 1, 2026: 3}
    assert summary.waiting == 1
    received_total = len(first) + len(later)
    assert sum(b.card_count for b in summary.batches) + summary.waiting == received_total
    assert sum(summary.per_year.values()) == sum(b.card_count for b in summary.batches)


async def test_empty_register(desk):
    assert await destruction_summary(desk) == DestructionSummary(0, [], {})


@pytest.mark.parametrize("user", [None, KANIGORO, OFFICIAL], ids=["citizen", "staff", "official"])
async def test_only_an_admin_records_a_batch(received, user):
    db, _, _ = received
    before = await _register(db)
    with pytest.raises(NotAdmin):
        await _batch(db, admin=user)
    assert await _register(db) == before
    ((actor, action, _),) = await _audit_rows(db)
    assert (actor, action) == (user.telegram_id if user else None, "destruction:batch:refused")


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"method": "  "}, "method"),
        ({"method": "x" * 201}, "method"),
        ({"witnesses": ""}, "witnesses"),
        ({"day": date(2026, 11, 25)}, "date"),
    ],
    ids=["no-method", "long-method", "no-witnesses", "future"],
)
async def test_invalid_batch_details(received, changes, kind):
    db, _, _ = received
    before = await _register(db)
    with pytest.raises(InvalidBatch) as caught:
        await _batch(db, **changes)
    assert caught.value.context == {"kind": kind, "max_len": 200}
    assert await _register(db) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20", date(2026, 11, 20)),
        ("20-11-2026", date(2026, 11, 20)),
        (" 20/11/2026 ", date(2026, 11, 20)),
    ],
)
def test_parse_batch_date(text, expected):
    assert parse_batch_date(text) == expected


@pytest.mark.parametrize("text", ["", "besok", "2026-13-01", "31/02/2026"])
def test_unreadable_batch_date(text):
    with pytest.raises(InvalidBatch) as caught:
        parse_batch_date(text)
    assert caught.value.context["kind"] == "date"


async def test_schema_keeps_a_card_in_one_batch(received):
    db, _, _ = received
    batch = await _batch(db)
    ((second,),) = await db.execute_fetchall(
        "INSERT INTO destruction_batches (destroyed_on, method, witnesses, created_by,"
        " created_at) VALUES ('2026-11-24', 'x', 'y', 1, 'x') RETURNING id"
    )
    with pytest.raises(IntegrityError, match="at most one"):  # a trigger, on both engines
        await db.execute("UPDATE received_cards SET batch_id = ?", (second,))
    assert (await destruction_summary(db)).batches[0] == batch


async def test_open_tickets_receive_no_card(desk):
    await report_damaged(desk)
    with pytest.raises(NothingToDestroy):
        await _batch(desk)


async def test_a_batch_cannot_hold_cards_received_after_its_date(desk):
    card = await handed_over(desk, "recorded")  # received today (NOW)
    with pytest.raises(NothingToDestroy):
        await _batch(desk, day=date(2020, 1, 1))
    with pytest.raises(CardsNotWaiting):
        await _batch(desk, [card.number], day=date(2020, 1, 1))
    assert (await _register(desk))[1] == 0  # nothing recorded
