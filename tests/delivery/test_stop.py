"""SIGTERM during a booking (issue 17), as systemd stops the real `dukcapil-bot run`.

The bot stops taking updates, lets the handler in progress finish (the booking committed, its
confirmation sent once) and exits; a press sent after the signal is not fetched by the stopping
bot, stays with Telegram and is handled once, by the next start. (SIGTERM during a broadcast:
tests/delivery/test_crash.py.)
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiosqlite
import pytest

from tests.cli.test_restore_drill import WAIT, answer, press
from tests.conftest import PEOPLE, STAFF_ID
from tests.delivery.test_crash import STOP_WITHIN, start_bot, tail, until


async def bookings_of(path: Path, chat_id: int) -> int:
    query = "SELECT count(*) FROM bookings WHERE chat_id = ?"
    async with aiosqlite.connect(path) as conn, conn.execute(query, (chat_id,)) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def calls(botapi, method: str, chat_id: int) -> int:
    """How many `method` calls the bot made to this chat."""
    return sum(1 for m, p in botapi.requests if m == method and int(p["chat_id"]) == chat_id)


@pytest.mark.timeout(180)
async def test_sigterm_mid_booking_finishes_it_and_leaves_later_presses_to_the_next_start(
    botapi, settings, population, tmp_path
):
    log = tmp_path / "bot.log"
    botapi.user(STAFF_ID)  # the point's staff are told of the pending booking
    citizen, person = botapi.user(7001), PEOPLE["unrecorded"]
    path = settings.database_path

    first = await start_bot(settings, log)
    menu = await answer(citizen, "/start")
    await answer(citizen, f"/cek {person.nik} {person.kk}")
    services = await answer(citizen, "/antre")
    people = await press(citizen, services, "bk:svc:rekam")
    points = await press(citizen, people, "bk:who:0")
    calendar = await press(citizen, points, "bk:pt:kanigoro")
    slots = await press(citizen, calendar, "bk:day:")
    summary = await press(citizen, slots, "bk:slot:")

    botapi.faults.hold_answers()  # the QR code goes out; Telegram is slow to say so
    citizen.press(summary, "bk:ok")

    async def mid_flight() -> bool:
        return bool(botapi.faults.withheld)

    await until(mid_flight, within=WAIT, what="the confirmation handler to send", log=log)
    seen = len(botapi.requests)
    os.killpg(first.pid, signal.SIGTERM)

    async def stopped_polling() -> bool:  # PTB's last getUpdates confirms what it fetched
        return any(
            m == "getUpdates" and not p.get("timeout") for m, p in botapi.requests[seen:]
        ) or (first.returncode is not None)

    await until(stopped_polling, within=WAIT, what="the bot to stop polling", log=log)
    late = citizen.press(menu, "menu:jadwal")  # after the signal: for the next start
    botapi.faults.release()
    assert await asyncio.wait_for(first.wait(), STOP_WITHIN) == 0, tail(log)

    assert await bookings_of(path, citizen.id) == 1, "the booking was committed"
    confirmation = [m for m in citizen.inbox if m.text and "Antrean Anda tercatat" in m.text]
    assert len(confirmation) == 1
    assert calls(botapi, "sendPhoto", citizen.id) == 1, "the QR code, once"
    assert calls(botapi, "sendVenue", citizen.id) == 1, "the handler finished: the map pin"
    assert not botapi.sim.query_answered(late), "the press after the signal was not taken"
    before_restart = len(citizen.inbox)

    async def answered_again() -> bool:
        return len(citizen.inbox) > before_restart

    second = await start_bot(settings, log)
    try:
        await until(answered_again, within=WAIT, what="the late press to be handled", log=log)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), STOP_WITHIN) == 0, tail(log)

    after_restart = citizen.inbox[before_restart:]
    assert len(after_restart) == 1, [m.text for m in after_restart]
    assert "Rudi L." in (after_restart[0].text or ""), "the press, handled: the booking listed"
    assert botapi.sim.query_answered(late)
    assert await bookings_of(path, citizen.id) == 1
    assert calls(botapi, "sendPhoto", citizen.id) == 1, "nothing of the booking sent again"
    assert calls(botapi, "sendVenue", citizen.id) == 1
