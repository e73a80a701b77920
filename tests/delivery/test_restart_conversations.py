"""Conversations survive a restart (issue 15): the real `dukcapil-bot run` is SIGKILLed in the
middle of a flow, started again, and the next button of the old message (or the next message)
carries the flow on from that step to its end: /antre, /lapor (a damaged card) and linking a
household to the chat after /cek. Before, every draft and state lived in the process only."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from bot.config import Settings
from bot.engine import open_database
from botapi.server import BotMessage
from tests.cli.test_restore_drill import answer, press
from tests.conftest import STAFF_ID
from tests.delivery.test_crash import STOP_WITHIN, start_bot, tail, until


async def count(settings: Settings, query: str, *args: object) -> int:
    conn = await open_database(settings)
    try:
        rows = await conn.execute_fetchall(query, args)
    finally:
        await conn.close()
    return int(rows[0][0]) if rows else 0


async def _turn_over(settings: Settings, update_id: int) -> bool:
    handled = "SELECT count(*) FROM processed_updates WHERE update_id = ?"
    if not await count(settings, handled, update_id):
        return False
    return await count(settings, "SELECT count(*) FROM inbox") == 0


# Each flow: walk it to a step (returning the message whose button comes next), then, on the
# restarted bot, carry on from that message to the end (returning the last answer).
@dataclass(frozen=True)
class Flow:
    who: str
    to_the_step: Callable[..., Awaitable[BotMessage]]
    carry_on: Callable[..., Awaitable[BotMessage]]
    done: str  # in the last answer
    effect: str  # a count of rows of the chat that the flow made: 1 or more


async def booking_to_the_calendar(citizen, person) -> BotMessage:
    await answer(citizen, f"/cek {person.nik} {person.kk}")
    services = await answer(citizen, "/antre")
    people = await press(citizen, services, "bk:svc:rekam")
    points = await press(citizen, people, "bk:who:0")
    return await press(citizen, points, "bk:pt:kanigoro")


async def booking_from_the_calendar(citizen, calendar) -> BotMessage:
    slots = await press(citizen, calendar, "bk:day:")
    summary = await press(citizen, slots, "bk:slot:")
    return await press(citizen, summary, "bk:ok")


async def report_to_the_photo(citizen, person) -> BotMessage:
    await answer(citizen, f"/cek {person.nik} {person.kk}")
    causes = await answer(citizen, "/lapor")
    people = await press(citizen, causes, "tk:cause:chip")
    return await press(citizen, people, "tk:who:0")


async def report_from_the_photo(citizen, ask) -> BotMessage:
    points = await press(citizen, ask, "tk:skip")
    summary = await press(citizen, points, "tk:pt:kanigoro")
    return await press(citizen, summary, "tk:ok")


async def linking_to_the_consent(citizen, person) -> BotMessage:
    checked = await answer(citizen, f"/cek {person.nik} {person.kk}")
    return await press(citizen, checked, "link:kk:")


async def linking_from_the_consent(citizen, consent) -> BotMessage:
    return await press(citizen, consent, "consent:kk:")


FLOWS = {
    "antre": Flow(
        "unrecorded",
        booking_to_the_calendar,
        booking_from_the_calendar,
        "Antrean Anda tercatat",
        "SELECT count(*) FROM bookings WHERE chat_id = ?",
    ),
    "lapor": Flow(
        "recorded",
        report_to_the_photo,
        report_from_the_photo,
        "Laporan diterima",
        "SELECT count(*) FROM tickets WHERE chat_id = ?",
    ),
    "household": Flow(
        "mother",
        linking_to_the_consent,
        linking_from_the_consent,
        "Seluruh anggota KK sudah ditautkan",
        "SELECT count(*) FROM links WHERE chat_id = ? AND kind = 'household'",
    ),
}


@pytest.mark.timeout(180)
@pytest.mark.engines("sqlite", "postgresql")
@pytest.mark.parametrize("name", list(FLOWS))
async def test_a_flow_goes_on_after_sigkill_and_restart(
    botapi, settings, population, tmp_path, name
):
    flow, log = FLOWS[name], tmp_path / "bot.log"
    botapi.user(STAFF_ID)  # the point's staff are told of a booking or a report
    citizen = botapi.user(7301)

    first = await start_bot(settings, log)
    step = await flow.to_the_step(citizen, population[flow.who])
    # One chat's updates are handled one after another: once this is answered, the step's
    # update was handled to its end (its state written back after its answer).
    await answer(citizen, "/bantuan")
    # /bantuan's own turn ends after its answer, when the update is recorded as handled; and
    # Telegram counts it delivered only at the bot's next getUpdates. Killed before both, the
    # new bot is given /bantuan again and answers it again (an update is handled again rather
    # than lost, bot/services/updates.py), where the flow's next step is awaited. Recorded, a
    # redelivery is passed over. Several workers (PostgreSQL) also hand an update over through
    # the inbox and delete it once its turn is over: until then a new worker takes it again.
    bantuan = botapi.sim.last_update_id
    await until(
        lambda: _turn_over(settings, bantuan),
        within=STOP_WITHIN,
        what="/bantuan recorded as handled and out of the inbox",
        log=log,
    )
    os.killpg(first.pid, signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    assert await count(settings, flow.effect, citizen.id) == 0

    second = await start_bot(settings, log)
    try:
        last = await flow.carry_on(citizen, step)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), STOP_WITHIN) == 0, tail(log)
    assert flow.done in (last.text or ""), [m.text for m in citizen.inbox[-4:]]
    assert await count(settings, flow.effect, citizen.id) >= 1
