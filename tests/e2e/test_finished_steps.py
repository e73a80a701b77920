"""End to end: the buttons of a finished step stop working visibly (issue 16). A step's message
becomes the next step (or the outcome), a flow cancelled, abandoned or timed out loses its
buttons, and a later press on an old button is told "Pilihan ini sudah tidak berlaku" and
changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import PEOPLE
from tests.e2e.test_booking import book, db_row

STALE = "Pilihan ini sudah tidak berlaku"


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data and data.startswith(prefix))


async def verified(botapi, user_id: int, who: str = "unrecorded"):
    person = PEOPLE[who]
    user = botapi.user(user_id)
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    return user


@pytest.mark.usefixtures("running_bot")
async def test_a_chosen_step_becomes_the_next_and_its_old_buttons_are_refused(botapi):
    user = await verified(botapi, 7601)
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rekam")
    people = await user.next_message()
    assert (people.method, people.message_id) == ("editMessageText", services.message_id)
    assert not [d for _, d in people.buttons if d.startswith("bk:svc:")]
    user.press(services, "bk:svc:rusak", raw=True)  # the service step, as it was once seen
    assert STALE in (await user.next_message()).text
    user.press(people, "bk:who:0")  # the live step still works
    points = await user.next_message()
    assert data_of(points, "bk:pt:")


@pytest.mark.usefixtures("running_bot")
async def test_a_double_tap_acts_once(botapi):
    user = await verified(botapi, 7602)
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rekam")
    user.press(services, "bk:svc:rekam")  # before the bot has answered the first
    people = await user.next_message()
    assert data_of(people, "bk:who:")
    assert STALE in (await user.next_message()).text
    await user.no_message(within=0.3)


@pytest.mark.usefixtures("running_bot")
@pytest.mark.parametrize(
    ("command", "first"), [("/antre", "bk:svc:rekam"), ("/lapor", "tk:cause:chip")]
)
async def test_a_cancelled_flow_loses_its_buttons(botapi, command, first):
    user = await verified(botapi, 7603)
    user.send_text(command)
    step = await user.next_message()
    user.send_text("/batal")
    assert "dibatalkan" in (await user.next_message()).text
    closed = await user.next_message()
    assert (closed.method, closed.message_id, closed.buttons) == (
        "editMessageReplyMarkup",
        step.message_id,
        [],
    )
    user.press(step, first, raw=True)
    assert STALE in (await user.next_message()).text


async def test_a_timed_out_flow_loses_its_buttons(running_bot, botapi, clock):
    user = await verified(botapi, 7604)
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rekam")
    people = await user.next_message()
    user.send_text("/bantuan")  # answered after the press is fully handled (one line per chat)
    await user.next_message()
    clock.advance(timedelta(minutes=15, seconds=1))  # 15 minutes without an answer
    (job,) = running_bot.job_queue.get_jobs_by_name("conversations")
    await job.run(running_bot)
    closed = await user.next_message()
    assert (closed.method, closed.message_id, closed.buttons) == (
        "editMessageReplyMarkup",
        people.message_id,
        [],
    )
    user.press(people, "bk:who:0", raw=True)
    assert STALE in (await user.next_message()).text


@pytest.mark.usefixtures("running_bot")
async def test_a_flow_found_timed_out_loses_its_buttons_before_the_press(botapi, clock):
    user = await verified(botapi, 7606)
    user.send_text("/antre")
    services = await user.next_message()
    user.press(services, "bk:svc:rekam")
    people = await user.next_message()
    clock.advance(timedelta(minutes=15, seconds=1))  # before the job's next round
    user.press(people, "bk:who:0", raw=True)
    closed = await user.next_message()
    assert (closed.method, closed.message_id, closed.buttons) == (
        "editMessageReplyMarkup",
        people.message_id,
        [],
    )
    assert STALE in (await user.next_message()).text


@pytest.mark.usefixtures("running_bot")
async def test_an_answered_question_refuses_a_second_answer(botapi, settings):
    user, *_ = await book(botapi, 7605, "unrecorded", day="2026-11-25")
    user.send_text("/jadwal")
    listing = await user.next_message()
    user.press(listing, data_of(listing, "jd:cancel:"))
    ask = await user.next_message()
    drop = data_of(ask, "jd:drop:")
    user.press(ask, "jd:keep")
    kept = await user.next_message()
    assert (kept.message_id, kept.buttons) == (ask.message_id, [])
    user.press(ask, drop, raw=True)  # "yes" after "no"
    assert STALE in (await user.next_message()).text
    assert tuple(await db_row(settings, "SELECT state FROM bookings")) == ("pending",)

    user.send_text("/bahasa")
    languages = await user.next_message()
    user.press(languages, "lang:en")
    assert (await user.next_message()).buttons == []
    user.press(languages, "lang:id", raw=True)  # a second choice on the answered question
    assert "This choice is no longer valid" in (await user.next_message()).text
    user.send_text("/jadwal")
    assert "Your bookings" in (await user.next_message()).text
