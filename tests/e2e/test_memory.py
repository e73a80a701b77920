"""End to end: the running bot keeps no per-account memory, and forgets what nobody can use any
more (issues 7 and 15).

Every /cek leaves a verification in the account's flow data; that data lives in the database
between updates (sealed), never in the process, and the conversations job deletes it once it
has expired. An account keeps at most ten verifications, and the database forgets successful
checks after 30 days (issue 13, finding 14).
"""

from __future__ import annotations

from datetime import timedelta

from bot.engine import open_database
from bot.services import conversations
from tests.conftest import PEOPLE
from tests.e2e.test_booking import db_row


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data.startswith(prefix))


async def check(user, who: str):
    person = PEOPLE[who]
    user.send_text(f"/cek {person.nik} {person.kk}")
    return await user.next_message()


async def run_job(app, name: str) -> None:
    (job,) = app.job_queue.get_jobs_by_name(name)
    await job.run(app)


async def settled(app, *chats: int) -> None:
    """Wait until the chats' updates are handled to the end (written back after the reply)."""
    for chat_id in chats:
        async with app.update_processor.in_line(chat_id):
            pass


async def kept_data(settings, clock, user_id: int) -> dict:
    """The account's flow data as the bot would load it now."""
    conn = await open_database(settings)
    try:
        return (await conversations.load(conn, user_id, user_id, now=clock.now())).user_data
    finally:
        await conn.close()


async def rows(settings, user_id: int) -> int:
    query = "SELECT count(*) FROM conversations WHERE user_id = ?"
    return (await db_row(settings, query, user_id))[0]


async def test_verifications_live_in_the_database_and_expired_ones_are_deleted(
    running_bot, botapi, settings, clock
):
    early, late = botapi.user(3101), botapi.user(3102)
    await check(early, "recorded")
    clock.advance(timedelta(minutes=10))
    fresh = await check(late, "turning17")
    await check(late, "child")
    await settled(running_bot, 3101, 3102)
    assert not running_bot.user_data  # nothing kept in the process between updates
    assert await rows(settings, 3101) == await rows(settings, 3102) == 1

    clock.advance(timedelta(minutes=6))  # the early check is 16 minutes old, the late ones 6
    await run_job(running_bot, "conversations")

    assert await rows(settings, 3101) == 0
    assert len((await kept_data(settings, clock, 3102))["verified"]) == 2
    late.press(fresh, data_of(fresh, "link:nik:"))  # what is still valid still works
    assert "Persetujuan" in (await late.next_message()).text
    await settled(running_bot, 3102)

    clock.advance(timedelta(minutes=16))
    await run_job(running_bot, "conversations")
    assert await rows(settings, 3102) == 0


async def test_a_draft_in_progress_is_kept(running_bot, botapi, clock):
    user = botapi.user(3103)
    user.send_text("/cek")
    await user.next_message()
    user.send_text(PEOPLE["recorded"].nik)  # the NIK is kept while the KK is asked for
    assert "KK" in (await user.next_message()).text
    clock.advance(timedelta(minutes=5))
    await run_job(running_bot, "conversations")
    user.send_text(PEOPLE["recorded"].kk)
    assert "sudah rekam e-KTP" in (await user.next_message()).text


async def test_the_jobs_run_every_minute_and_hourly(running_bot):
    (conversations_job,) = running_bot.job_queue.get_jobs_by_name("conversations")
    assert conversations_job.job.trigger.interval == timedelta(minutes=1)
    (checks_job,) = running_bot.job_queue.get_jobs_by_name("forget-stale-user-data")
    assert checks_job.job.trigger.interval == timedelta(hours=1)


async def test_an_account_keeps_at_most_ten_verifications(running_bot, botapi, settings, clock):
    user = botapi.user(3104)
    answers = [await check(user, who) for who in ("recorded", "turning17", "child") * 4]
    await settled(running_bot, 3104)
    assert len((await kept_data(settings, clock, 3104))["verified"]) == 10
    user.press(answers[0], data_of(answers[0], "link:nik:"))  # the oldest two are gone
    assert "tidak berlaku" in (await user.next_message()).text
    user.press(answers[-1], data_of(answers[-1], "link:nik:"))
    assert "Persetujuan" in (await user.next_message()).text


async def test_successful_checks_are_forgotten_after_thirty_days(
    running_bot, botapi, settings, clock
):
    await check(botapi.user(3105), "recorded")
    clock.advance(timedelta(days=29))
    await check(botapi.user(3106), "recorded")
    clock.advance(timedelta(days=1, minutes=1))
    await run_job(running_bot, "forget-stale-user-data")
    count = "SELECT count(*) FROM check_attempts WHERE user_id = ? AND succeeded = 1"
    assert tuple(await db_row(settings, count, 3105)) == (0,)
    assert tuple(await db_row(settings, count, 3106)) == (1,)
