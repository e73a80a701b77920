"""The end-of-day sweep turns bookings still holding their place into no-shows."""

from __future__ import annotations

from datetime import timedelta

from bot.services import frontdesk
from bot.services.no_shows import sweep_no_shows
from tests.conftest import NOW
from tests.desk import CHAT, KANIGORO, TODAY, audit_rows, book_at, db_of_each_engine, desk, reread

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)


# --- the no-show sweep ---


async def test_sweep_turns_unattended_bookings_into_no_shows(desk):
    pending = await book_at(desk, "unrecorded")
    confirmed = await book_at(desk, "deactivated")
    await frontdesk.confirm(desk, confirmed.id, staff=KANIGORO, now=NOW)
    served = await book_at(desk, "recorded", service="ambil")
    await frontdesk.check_in(desk, served.code, staff=KANIGORO, now=NOW)
    later = await book_at(desk, "turning17", day=None, chat=CHAT + 1)
    evening = NOW + timedelta(hours=10)  # 20:00 WIB
    swept = await sweep_no_shows(desk, day=TODAY, now=evening)
    assert [b.id for b in swept] == [pending.id, confirmed.id]
    assert {b.state for b in swept} == {"no_show"}
    assert (await reread(desk, served)).state == "checked_in"
    assert (await reread(desk, later)).state == "pending"
    rows = await audit_rows(desk, "no_show")
    assert [r[0] for r in rows] == [None, None]  # the system acted
    assert await sweep_no_shows(desk, day=TODAY, now=evening) == []
