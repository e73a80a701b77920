"""End to end: the running bot forgets per-account memory nobody can use any more (issue 7).

Every /cek leaves a verification in the account's user_data; without the hourly housekeeping
job the bot's memory would grow with every citizen who ever checked.
"""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import PEOPLE


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
