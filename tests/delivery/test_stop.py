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
from collections import Counter
from datetime import UTC, datetime

import pytest

from bot.app import prepare_database
from bot.services import outbox
from botapi.server import BotMessage
from tests.cli.test_restore_drill import WAIT, answer, press
from tests.conftest import PEOPLE, STAFF_ID
from tests.delivery.test_crash import STOP_WITHIN, TEXT, start_bot, states, tail, until
from tests.engine_rows import count


async def bookings_of(settings, chat_id: int) -> int:
    return await count(settings, "SELECT count(*) FROM bookings WHERE chat_id = ?", chat_id)


def calls(botapi, method: str, chat_id: int) -> int:
    """How many `method` calls the bot made to this chat."""
    return sum(1 for m, p in botapi.requests if m == method and int(p["chat_id"]) == chat_id)


async def to_the_summary(citizen, person) -> BotMessage:
    """/cek, then /antre up to the summary with its Confirm button (Kanigoro, the first slot)."""
    await answer(citizen, f"/cek {person.nik} {person.kk}")
    services = await answer(citizen, "/antre")
    people = await press(citizen, services, "bk:svc:rekam")
    points = await press(citizen, people, "bk:who:0")
    calendar = await press(citizen, points, "bk:pt:kanigoro")
    slots = await press(citizen, calendar, "bk:day:")
    return await press(citizen, slots, "bk:slot:")


def polling_stopped(botapi, since: int) -> bool:
    """Whether the bot made its last getUpdates (no long poll: it confirms what it fetched)."""
    return any(m == "getUpdates" and not p.get("timeout") for m, p in botapi.requests[since:])


@pytest.mark.timeout(180)
async def test_sigterm_mid_booking_finishes_it_and_leaves_later_presses_to_the_next_start(
    botapi, settings, population, tmp_path
):
    log = tmp_path / "bot.log"
    botapi.user(STAFF_ID)  # the point's staff are told of the pending booking
    citizen, person = botapi.user(7001), PEOPLE["unrecorded"]

    first = await start_bot(settings, log)
    menu = await answer(citizen, "/start")
    summary = await to_the_summary(citizen, person)

    botapi.faults.hold_answers()  # the QR code goes out; Telegram is slow to say so
    citizen.press(summary, "bk:ok")

    async def mid_flight() -> bool:
        return bool(botapi.faults.withheld)

    await until(mid_flight, within=WAIT, what="the confirmation handler to send", log=log)
    seen = len(botapi.requests)
    os.killpg(first.pid, signal.SIGTERM)

    async def stopped_polling() -> bool:
        return polling_stopped(botapi, seen) or first.returncode is not None

    await until(stopped_polling, within=WAIT, what="the bot to stop polling", log=log)
    late = citizen.press(menu, "menu:jadwal")  # after the signal: for the next start
    botapi.faults.release()
    assert await asyncio.wait_for(first.wait(), STOP_WITHIN) == 0, tail(log)

    assert await bookings_of(settings, citizen.id) == 1, "the booking was committed"
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
    assert await bookings_of(settings, citizen.id) == 1
    assert calls(botapi, "sendPhoto", citizen.id) == 1, "nothing of the booking sent again"
    assert calls(botapi, "sendVenue", citizen.id) == 1


# --- A broadcast going out while a booking is being confirmed ---

RUN = 3_000  # reminders going out when the signal comes
FIRST_REMINDED = 8_000_000
BATCH = 50  # the sender's batch with limits off: what it may have in hand when told to stop


async def plan(settings, chats: list[int]) -> None:
    planned = [outbox.Planned(f"teen:stop:{c}", c, "reminder", TEXT) for c in chats]
    conn = await prepare_database(settings)
    try:
        assert await outbox.enqueue_many(conn, planned, now=datetime.now(UTC), quiet=None) == RUN
    finally:
        await conn.close()


@pytest.mark.timeout(180)
async def test_sigterm_stops_the_sender_while_a_booking_is_finished(
    botapi, settings, population, tmp_path
):
    log = tmp_path / "bot.log"
    botapi.user(STAFF_ID)
    citizen, person = botapi.user(7001), PEOPLE["unrecorded"]
    chats = [FIRST_REMINDED + n for n in range(RUN)]
    for chat_id in chats:
        botapi.user(chat_id)

    def reminded() -> int:
        counts = botapi.send_counts()
        return sum(counts.get(chat_id, 0) for chat_id in chats)

    first = await start_bot(settings, log)
    summary = await to_the_summary(citizen, person)
    botapi.faults.hold_answers(chat_id=citizen.id)  # the booking's QR code waits for its answer
    citizen.press(summary, "bk:ok")
    await plan(settings, chats)  # the sender finds them within a second

    async def both_busy() -> bool:
        return bool(botapi.faults.withheld) and reminded() > 0

    await until(both_busy, within=WAIT, what="the confirmation and the run under way", log=log)
    seen = len(botapi.requests)
    os.killpg(first.pid, signal.SIGTERM)

    async def stopping() -> bool:
        return polling_stopped(botapi, seen) or first.returncode is not None

    await until(stopping, within=WAIT, what="the bot to stop polling", log=log)
    at_stop = reminded()

    async def sender_done() -> bool:  # stopped, or (told to stop too late) the run all sent
        return "outbox sender: stopped" in log.read_text(errors="replace") or reminded() == RUN

    await until(sender_done, within=60, what="the sender to stop", log=log)
    after_stop = reminded()
    botapi.faults.release()
    assert await asyncio.wait_for(first.wait(), STOP_WITHIN) == 0, tail(log)

    assert after_stop - at_stop <= 2 * BATCH, "the sender took no new batch once stopping"
    assert calls(botapi, "sendVenue", citizen.id) == 1, "the booking's handler finished"
    left = await states(settings)
    assert left["sending"] == 0
    assert left["sent"] == reminded() < RUN
    assert Counter(botapi.send_counts()[c] for c in chats if c in botapi.send_counts()) == {
        1: reminded()
    }
