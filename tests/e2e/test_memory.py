"""End to end: the running bot forgets per-account memory nobody can use any more (issue 7).

Every /cek leaves a verification in the account's user_data; without the hourly housekeeping
job the bot's memory would grow with every citizen who ever checked. An account keeps at most
ten, and the database forgets successful checks after 30 days (issue 13, finding 14).
"""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import PEOPLE
from tests.e2e.test_booking import db_row


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data.startswith(prefix))


async def check(user, who: str):
    person = PEOPLE[who]
    user.send_text(f"/cek {person.nik} {person.kk}")
    return await user.next_message()


async def run_housekeeping(app) -> None:
    (job,) = app.job_queue.get_jobs_by_name("forget-stale-user-data")
    await job.run(app)


async def test_expired_verifications_and_empty_accounts_are_forgotten(running_bot, botapi, clock):
    early, late = botapi.user(3101), botapi.user(3102)
    await check(early, "recorded")
    clock.advance(timedelta(minutes=10))
    fresh = await check(late, "turning17")
    await check(late, "child")
    assert {3101, 3102} <= running_bot.user_data.keys()

    clock.advance(timedelta(minutes=6))  # the early check is 16 minutes old, the late ones 6
    await run_housekeeping(running_bot)

    assert 3101 not in running_bot.user_data
    assert len(running_bot.user_data[3102]["verified"]) == 2
    late.press(fresh, data_of(fresh, "link:nik:"))  # what is still valid still works
    assert "Persetujuan" in (await late.next_message()).text

    clock.advance(timedelta(minutes=10))
    await run_housekeeping(running_bot)
    assert 3102 not in running_bot.user_data


async def test_a_draft_in_progress_is_kept(running_bot, botapi, clock):
    user = botapi.user(3103)
    user.send_text("/cek")
    await user.next_message()
    user.send_text(PEOPLE["recorded"].nik)  # the NIK is kept while the KK is asked for
    assert "KK" in (await user.next_message()).text
    clock.advance(timedelta(minutes=5))
    await run_housekeeping(running_bot)
    user.send_text(PEOPLE["recorded"].kk)
    assert "sudah rekam e-KTP" in (await user.next_message()).text


async def test_the_job_runs_hourly(running_bot):
    (job,) = running_bot.job_queue.get_jobs_by_name("forget-stale-user-data")
    assert job.job.trigger.interval == timedelta(hours=1)


async def test_an_account_keeps_at_most_ten_verifications(running_bot, botapi):
    user = botapi.user(3104)
    answers = [await check(user, who) for who in ("recorded", "turning17", "child") * 4]
    assert len(running_bot.user_data[3104]["verified"]) == 10
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
    await run_housekeeping(running_bot)
    count = "SELECT count(*) FROM check_attempts WHERE user_id = ? AND succeeded = 1"
    assert tuple(await db_row(settings, count, 3105)) == (0,)
    assert tuple(await db_row(settings, count, 3106)) == (1,)
