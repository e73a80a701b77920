"""The failed-check lockout and the regency-wide burst on both engines, through the services
that decide before and after each status check (bot/services/lockout.py, burst.py; the storage
is bot/storage/attempts.py). The alert to the admins and the checks themselves are in
tests/security/test_check_burst.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import CheckLocked
from bot.services.burst import CheckLimits, ChecksSlowed
from bot.services.lockout import admit, record_check
from bot.storage.attempts import delete_successes_before, read_gate
from tests.conftest import NOW

LIMITS = CheckLimits(
    failures_per_hour=5,
    burst_failures=4,
    burst_window=timedelta(minutes=10),
    burst_delay=timedelta(seconds=60),
)
MINUTE = timedelta(minutes=1)


QUIET = CheckLimits(failures_per_hour=5, burst_failures=200)  # no burst in sight


async def attempt(db, user, *, succeeded, now, limits=LIMITS):
    """One check of `user` at `now` as the status service makes it: admitted, then recorded."""
    admission = await admit(db, user, limits, now=now)
    admission.ensure_turn()
    await record_check(db, user, admission, limits, succeeded=succeeded, alert=None, now=now)


async def test_the_sixth_failure_in_an_hour_waits_for_the_first_to_expire(engine_db):
    for minute in range(5):
        await attempt(engine_db, 7, succeeded=False, now=NOW + minute * MINUTE, limits=QUIET)
    with pytest.raises(CheckLocked) as locked:
        await admit(engine_db, 7, QUIET, now=NOW + 30 * MINUTE)
    assert locked.value.context == {"until": NOW + timedelta(hours=1)}
    await admit(engine_db, 7, QUIET, now=NOW + timedelta(hours=1, seconds=1))
    await admit(engine_db, 8, QUIET, now=NOW + 30 * MINUTE)  # another account


async def test_successes_do_not_count_and_only_the_latest_is_kept(engine_db):
    for minute in range(10):
        await attempt(engine_db, 7, succeeded=True, now=NOW + minute * MINUTE, limits=QUIET)
    gate = await read_gate(engine_db, 7, hour_ago=NOW, window_start=NOW)
    assert (gate.failures, gate.last_success) == ([], NOW + 9 * MINUTE)
    assert await delete_successes_before(engine_db, NOW + 10 * MINUTE) == 1


async def test_a_burst_slows_a_new_account_that_failed_and_lasts_a_window_after(engine_db):
    for user in range(100, 100 + LIMITS.burst_failures):  # four accounts, one failure each
        await attempt(engine_db, user, succeeded=False, now=NOW)
    gate = await read_gate(engine_db, 100, hour_ago=NOW - MINUTE, window_start=NOW - MINUTE)
    assert gate.burst is not None
    assert (gate.recent_failures, gate.burst.until) == (4, NOW + LIMITS.burst_window)

    with pytest.raises(ChecksSlowed):  # failed before: waits its turn, a minute from now
        await attempt(engine_db, 100, succeeded=False, now=NOW + MINUTE)
    await attempt(engine_db, 500, succeeded=True, now=NOW + MINUTE)  # a fresh account does not
    await attempt(engine_db, 100, succeeded=False, now=NOW + 2 * MINUTE)  # its turn came

    gate = await read_gate(engine_db, 100, hour_ago=NOW, window_start=NOW)
    assert gate.burst is not None  # the failure during the burst prolonged it
    assert gate.burst.until == NOW + 2 * MINUTE + LIMITS.burst_window
    with pytest.raises(CheckLocked):  # two failures an hour during a burst
        await admit(engine_db, 100, LIMITS, now=NOW + 3 * MINUTE)
