"""Moving a booking checks the person again, as a new booking does (issue 16)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.db import transaction
from bot.errors import RecordingNotAllowed
from bot.nik import make_nik
from bot.services import booking as svc
from bot.storage.residents import upsert_residents
from tests.conftest import NOW
from tests.services.test_booking import book, loaded, wib  # noqa: F401  (the fixture)

# Turns 16 on Monday 30 November 2026: may record from that day on, not before.
NINA = make_nik("350510", date(2010, 11, 30), "P", 60)


async def test_a_recording_moved_before_the_16th_birthday_is_refused(loaded):  # noqa: F811
    async with transaction(loaded):
        row = (NINA, "3505100101900002", "Nina", "2010-11-30", "P", "BELUM KAWIN", "3505102001")
        await upsert_residents(loaded, [(*row, None, "AKTIF")], now=NOW)
    made = await book(loaded, NINA, at=wib(1, 9, month=12))
    with pytest.raises(RecordingNotAllowed) as refused:
        await svc.reschedule(loaded, made.id, chat_id=1, start_at=wib(26, 9), now=NOW)
    assert refused.value.context["kind"] == "too_young"
    moved = await svc.reschedule(loaded, made.id, chat_id=1, start_at=wib(30, 9), now=NOW)
    assert moved.day == date(2026, 11, 30)
