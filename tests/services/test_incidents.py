"""Incidents on either engine: opened when a condition begins to hold, closed when it stops,
each beginning and end told once (bot/services/alerts.py, bot/storage/incidents.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.services.alerts import Condition, told, untold, update_incidents
from tests.conftest import NOW

LATER = NOW + timedelta(minutes=1)


async def test_an_incident_is_told_when_it_begins_and_when_it_ends(engine_db):
    await update_incidents(engine_db, [Condition("job", "sweep", "LookupError")], now=NOW)
    await update_incidents(engine_db, [Condition("job", "sweep", "LookupError")], now=NOW)
    (began,) = await untold(engine_db)
    assert (began.kind, began.subject, began.detail, began.opened_at) == (
        "job",
        "sweep",
        "LookupError",
        NOW,
    )
    await told(engine_db, began, over=False, now=NOW)
    assert await untold(engine_db) == []

    await update_incidents(engine_db, [], now=LATER)
    (ended,) = await untold(engine_db)
    assert (ended.id, ended.closed_at, ended.open_notified_at) == (began.id, LATER, NOW)
    await told(engine_db, ended, over=True, now=LATER)
    assert await untold(engine_db) == []


async def test_the_same_condition_after_an_end_is_a_new_incident(engine_db):
    await update_incidents(engine_db, [Condition("disk", detail="5")], now=NOW)
    await update_incidents(engine_db, [], now=LATER)
    await update_incidents(engine_db, [Condition("disk", detail="4")], now=LATER)
    first, second = await untold(engine_db)
    assert (first.closed_at, second.closed_at, second.detail) == (LATER, None, "4")
