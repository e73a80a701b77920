"""A regency-wide burst of failed status checks: new accounts that fail are slowed, fresh and
trusted ones are not, the admins are alerted once, and nothing about it tells an unknown NIK from
a wrong KK.

The rule through the service (on a database), then end to end through the local Bot API server
with a low threshold (8 failures in 10 minutes, 60 seconds' wait).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.config import Settings
from bot.context import Deps
from bot.errors import CheckLocked, InvalidNik
from bot.handlers.people import burst_alert
from bot.rendering import Renderer
from bot.services.burst import BurstAlert, CheckLimits, ChecksSlowed, shown_time
from bot.services.importer import import_residents
from bot.services.lockout import ensure_not_locked
from bot.services.roles import add_user
from bot.services.status import check_status
from bot.storage import outbox
from bot.storage.areas import sync_areas
from tests.conftest import (
    ADMIN_ID,
    KK_LESTARI,
    KK_SANTOSO,
    NOW,
    PEOPLE,
    SECRET_KEY,
    STAFF_ID,
    TOKEN,
    write_population,
)

TODAY = NOW.date()
LIMITS = CheckLimits(
    failures_per_hour=5,
    burst_failures=4,
    burst_window=timedelta(minutes=10),
    burst_delay=timedelta(seconds=60),
)
KNOWN = PEOPLE["recorded"]
UNKNOWN_NIK = KNOWN.nik[:-4] + "0999"
SIXTEEN_DIGITS = re.compile(r"\d{16}")
SECOND_ADMIN = 9010


def _alert() -> BurstAlert:
    def compose(locale: str, report) -> str:
        return f"{locale}|{report.failures}|{report.since.isoformat()}|{report.until.isoformat()}"

    return BurstAlert(compose, "id")


# --- the rule, through the service ---


@pytest.fixture
async def db(engine_db):
    """The rule's database: each engine in turn, with the Kemendagri areas loaded."""
    await sync_areas(engine_db)
    return engine_db


@pytest.fixture
async def loaded(db, tmp_path):
    await import_residents(db, write_population(tmp_path / "p.csv"), now=NOW)
    await add_user(db, ADMIN_ID, "admin", service_point=None, area=None, now=NOW)
    await add_user(db, SECOND_ADMIN, "admin", service_point=None, area=None, now=NOW)
    return db


async def check(db, user, nik=KNOWN.nik, kk=KNOWN.kk, *, now=NOW, limits=LIMITS):
    return await check_status(
        db, user, nik, kk, limits=limits, alert=_alert(), now=now, today=TODAY
    )


async def fail_from_many(db, count, *, first_user=100, now=NOW):
    """`count` failed checks, each from a different account."""
    for i in range(count):
        assert await check(db, first_user + i, kk=KK_LESTARI, now=now) is None


async def fail_in_turn(db, count, *, first_user, asked):
    """During a burst: `count` accounts ask at `asked` and fail when their turn comes."""
    for i in range(count):
        await ensure_not_locked(db, first_user + i, LIMITS, now=asked)
    await fail_from_many(db, count, first_user=first_user, now=asked + LIMITS.burst_delay)


async def alerts(db) -> list[tuple[str, int, str]]:
    rows = await db.execute_fetchall(
        "SELECT idempotency_key, chat_id, kind FROM outbox WHERE idempotency_key LIKE"
        " 'check-burst:%' ORDER BY id"
    )
    return [tuple(row) for row in rows]


async def test_below_the_threshold_checks_are_not_slowed(loaded):
    await fail_from_many(loaded, LIMITS.burst_failures - 1)
    assert await check(loaded, 500) is not None  # a fresh account, answered at once
    assert await alerts(loaded) == []


async def test_a_burst_slows_a_new_account_that_failed_and_alerts_each_admin_once(loaded):
    await fail_from_many(loaded, LIMITS.burst_failures)
    assert [(chat, kind) for _, chat, kind in await alerts(loaded)] == [
        (ADMIN_ID, "staff"),
        (SECOND_ADMIN, "staff"),
    ]
    assert await check(loaded, 500, kk=KK_LESTARI) is None  # a fresh account: answered at once
    with pytest.raises(ChecksSlowed) as slowed:  # it failed: its next check waits its turn
        await check(loaded, 500)
    assert slowed.value.context["until"] == NOW + timedelta(seconds=60)
    later = NOW + timedelta(seconds=30)
    with pytest.raises(ChecksSlowed) as again:  # asking again does not move the turn
        await check(loaded, 500, now=later)
    assert again.value.context["until"] == NOW + timedelta(seconds=60)
    turn = NOW + timedelta(seconds=60)
    assert await check(loaded, 500, now=turn) is not None  # its turn came
    with pytest.raises(ChecksSlowed) as next_one:  # one of the burst's accounts asks now
        await check(loaded, 101, now=turn)
    assert next_one.value.context["until"] == turn + timedelta(seconds=60)
    await fail_in_turn(loaded, 6, first_user=200, asked=turn)  # still failing
    assert len(await alerts(loaded)) == 2  # still one alert per admin


async def test_forty_throwaway_accounts_do_not_slow_honest_residents(loaded):
    """The attack: enough failing accounts open a burst. A resident who has not failed, and
    one who checked before (yesterday) and mistypes once, are answered at once."""
    returning = 510
    assert await check(loaded, returning, now=NOW - timedelta(days=1)) is not None
    await fail_from_many(loaded, LIMITS.burst_failures)
    assert await check(loaded, 501) is not None  # a fresh account, the right numbers
    assert await check(loaded, returning, kk=KK_LESTARI) is None  # a typo
    assert await check(loaded, returning) is not None  # at once: neither slowed nor locked
    with pytest.raises(ChecksSlowed):  # the accounts that failed wait their turn
        await check(loaded, 100)


async def test_one_typo_during_a_burst_costs_a_minute_not_an_hour(loaded):
    await fail_from_many(loaded, LIMITS.burst_failures)
    assert await check(loaded, 520, kk=KK_LESTARI) is None  # a new account mistypes
    with pytest.raises(ChecksSlowed) as slowed:
        await check(loaded, 520)
    assert await check(loaded, 520, now=slowed.value.context["until"]) is not None


async def test_the_alert_holds_counts_and_times_never_a_number(loaded, tmp_path):
    """The real alert text (bot/handlers/people.py composes it from the admin template)."""
    env = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_PATH": str(tmp_path / "x.sqlite3"),
        "SECRET_KEY": SECRET_KEY,
    }
    deps = Deps(loaded, Settings.from_env(env), FixedClock(NOW), Renderer())
    await fail_from_many(loaded, LIMITS.burst_failures - 1)
    await check_status(
        loaded,
        301,
        UNKNOWN_NIK,
        KK_SANTOSO,
        limits=LIMITS,
        alert=burst_alert(deps),
        now=NOW,
        today=TODAY,
    )
    texts = []
    for key, _, _ in await alerts(loaded):  # read through the outbox (its text may be sealed)
        message = await outbox.get_message_by_key(loaded, key)
        assert message is not None
        texts.append(message.text)
    assert len(texts) == 2
    for text in texts:
        assert "<b>4</b> cek NIK + KK gagal" in text  # the threshold was reached (10.00 WIB)
        assert "sejak pukul 09.50 WIB" in text
        assert "pukul <b>10.10 WIB</b>" in text
        assert SIXTEEN_DIGITS.search(text) is None
        for number in (KNOWN.nik, KNOWN.kk, KK_LESTARI, UNKNOWN_NIK, KK_SANTOSO):
            assert number not in text
            assert number[-4:] not in text


async def test_during_a_burst_an_account_may_fail_twice_an_hour(loaded):
    await fail_from_many(loaded, LIMITS.burst_failures)
    assert await check(loaded, 600, kk=KK_LESTARI) is None
    with pytest.raises(ChecksSlowed):
        await check(loaded, 600, kk=KK_LESTARI)
    turn = NOW + timedelta(seconds=60)
    assert await check(loaded, 600, kk=KK_LESTARI, now=turn) is None
    with pytest.raises(CheckLocked) as locked:
        await check(loaded, 600, now=turn + timedelta(seconds=61))
    assert locked.value.context["until"] == NOW + timedelta(hours=1)


async def test_the_wait_starts_when_the_check_begins(loaded):
    """/cek during a burst starts a slowed account's wait: typing NIK and KK uses it up."""
    await fail_from_many(loaded, LIMITS.burst_failures, first_user=700)
    await ensure_not_locked(loaded, 700, LIMITS, now=NOW)
    assert await check(loaded, 700, now=NOW + timedelta(seconds=60)) is not None


async def test_format_errors_are_told_before_the_wait(loaded):
    await fail_from_many(loaded, LIMITS.burst_failures, first_user=800)
    with pytest.raises(InvalidNik):
        await check(loaded, 800, kk="123")


async def test_the_burst_ends_one_window_after_the_failures_stop(loaded):
    await fail_from_many(loaded, LIMITS.burst_failures)
    last = NOW + timedelta(minutes=5)  # a failure in the burst prolongs it
    await ensure_not_locked(loaded, 900, LIMITS, now=last - timedelta(seconds=60))
    assert await check(loaded, 900, kk=KK_LESTARI, now=last) is None
    with pytest.raises(ChecksSlowed):
        await check(loaded, 100, now=NOW + timedelta(minutes=12))
    assert await check(loaded, 101, now=last + timedelta(minutes=10, seconds=1)) is not None


async def test_a_burst_that_flares_up_again_soon_is_the_same_burst(loaded):
    await fail_from_many(loaded, LIMITS.burst_failures)
    soon = NOW + timedelta(minutes=15)  # ended 5 minutes ago
    assert await check(loaded, 100, now=soon) is not None  # not slowed any more
    await fail_from_many(loaded, LIMITS.burst_failures, first_user=1100, now=soon)
    assert len(await alerts(loaded)) == 2
    with pytest.raises(ChecksSlowed):
        await check(loaded, 101, now=soon)
    much_later = soon + timedelta(minutes=30)
    await fail_from_many(loaded, LIMITS.burst_failures, first_user=1200, now=much_later)
    keys = [key for key, _, _ in await alerts(loaded)]
    assert len(keys) == 4  # a new burst: a new alert for each admin
    assert len({key.split(":")[1] for key in keys}) == 2


def test_the_time_shown_is_never_early():
    assert shown_time(NOW) == NOW
    assert shown_time(NOW + timedelta(seconds=1)) == NOW + timedelta(minutes=1)
    assert shown_time(NOW + timedelta(seconds=59, microseconds=5)) == NOW + timedelta(minutes=1)


def test_settings_have_sensible_defaults_and_are_read(tmp_path):
    base = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_PATH": str(tmp_path / "x.sqlite3"),
        "SECRET_KEY": SECRET_KEY,
    }
    limits = CheckLimits.from_settings(Settings.from_env(base))
    assert limits == CheckLimits(5, 200, timedelta(minutes=10), timedelta(seconds=60))
    custom = Settings.from_env(
        base
        | {
            "CHECK_BURST_FAILURES": "50",
            "CHECK_BURST_WINDOW_MINUTES": "5",
            "CHECK_BURST_DELAY_SECONDS": "30",
        }
    )
    assert CheckLimits.from_settings(custom) == CheckLimits(
        5, 50, timedelta(minutes=5), timedelta(seconds=30)
    )


# --- end to end: through the local Bot API server ---

E2E_FAILURES = 8


@pytest.fixture
def settings(botapi, tmp_path) -> Settings:
    return Settings.from_env(
        {
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": botapi.base_url,
            "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
            "SECRET_KEY": SECRET_KEY,
            "SEND_RATE": "0",
            "CHECK_BURST_FAILURES": str(E2E_FAILURES),
            "CHECK_BURST_WINDOW_MINUTES": "10",
            "CHECK_BURST_DELAY_SECONDS": "60",
        }
    )


async def one_shot(user, nik: str, kk: str):
    user.send_text(f"/cek {nik} {kk}")
    return await user.next_message()


@pytest.mark.usefixtures("running_bot")
async def test_a_burst_end_to_end(botapi, clock):
    admin, staff = botapi.user(ADMIN_ID), botapi.user(STAFF_ID)
    failed = [
        await one_shot(botapi.user(2000 + i), UNKNOWN_NIK if i % 2 else KNOWN.nik, KK_LESTARI)
        for i in range(E2E_FAILURES)
    ]
    assert all("tidak ditemukan" in answer.text for answer in failed)
    alert = await admin.next_message()
    assert "Lonjakan cek NIK yang gagal" in alert.text
    assert f"{E2E_FAILURES} cek NIK + KK gagal" in alert.text
    assert SIXTEEN_DIGITS.search(alert.text) is None

    fresh = botapi.user(2100)  # a fresh account, with the right numbers: answered at once
    assert "AKTIF" in (await one_shot(fresh, KNOWN.nik, KNOWN.kk)).text
    guesser = botapi.user(2000)  # one of the accounts that failed: it waits its turn
    slowed = await one_shot(guesser, KNOWN.nik, KNOWN.kk)
    assert "layanan cek NIK sedang dibatasi" in slowed.text
    assert "mulai pukul <b>10.01 WIB</b>" in slowed.html
    assert "AKTIF" not in slowed.text
    staff.send_text("/hari_ini")  # staff are not held up by the burst
    assert "Antrean hari ini" in (await staff.next_message(timeout=2.0)).text

    more = botapi.user(2001)  # the conversation: the wait starts at /cek
    more.send_text("/cek")
    assert "NIK" in (await more.next_message()).text
    clock.advance(timedelta(seconds=60))
    guesser.send_text(KNOWN.kk)  # only the KK number is sent again: the NIK was kept
    assert "AKTIF" in (await guesser.next_message()).text
    more.send_text(UNKNOWN_NIK)
    assert "KK" in (await more.next_message()).text
    more.send_text(KK_SANTOSO)
    assert "tidak ditemukan" in (await more.next_message()).text  # the burst goes on
    await admin.no_message(within=1.5)  # the sender polls every second: still one alert
    assert len([m for m in admin.inbox if "Lonjakan" in m.text]) == 1

    clock.advance(timedelta(minutes=11))  # one window after the last failure
    later = botapi.user(2102)
    assert "AKTIF" in (await one_shot(later, KNOWN.nik, KNOWN.kk)).text
    await admin.no_message(within=1.2)


@pytest.mark.usefixtures("running_bot")
async def test_unknown_nik_and_wrong_kk_read_the_same_byte_for_byte(botapi, clock):
    """No oracle, also while a burst slows the checks: the same bytes either way, for a fresh
    account during the burst, for a slowed one, and when its turn comes."""
    normal = [
        await one_shot(botapi.user(3000), KNOWN.nik, KK_LESTARI),
        await one_shot(botapi.user(3001), UNKNOWN_NIK, KK_SANTOSO),
    ]
    for i in range(E2E_FAILURES):
        await one_shot(botapi.user(3100 + i), KNOWN.nik, KK_LESTARI)
    fresh = [
        await one_shot(botapi.user(3300), KNOWN.nik, KK_LESTARI),
        await one_shot(botapi.user(3301), UNKNOWN_NIK, KK_SANTOSO),
    ]
    waits = [  # the accounts that failed before: slowed now
        await one_shot(botapi.user(3000), KNOWN.nik, KK_LESTARI),
        await one_shot(botapi.user(3001), UNKNOWN_NIK, KK_SANTOSO),
    ]
    clock.advance(timedelta(seconds=60))
    botapi.user(3000).send_text(KK_LESTARI)
    botapi.user(3001).send_text(KK_SANTOSO)
    during = [await botapi.user(3000).next_message(), await botapi.user(3001).next_message()]
    for wrong_kk, unknown in (normal, fresh, waits, during):
        assert wrong_kk.html.encode() == unknown.html.encode()
        assert wrong_kk.buttons == unknown.buttons
    assert "tidak ditemukan" in normal[0].text
    assert fresh[0].html == normal[0].html
    assert "dibatasi" in waits[0].text
    assert during[0].html == normal[0].html
