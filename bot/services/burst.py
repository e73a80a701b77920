"""A regency-wide burst of failed status checks slows the accounts that guess, and alerts the
admins once.

The lockout (bot/services/lockout.py) limits each Telegram account to a few failed checks an
hour, but someone with many accounts could still guess NIK + KK pairs in parallel. So the
failed checks of all accounts are counted over a sliding window: `burst_failures` of them within
`burst_window` is a burst (default 200 in 10 minutes: at 5 failures per account an hour that
takes 40 accounts or more, far beyond residents mistyping). It lasts until one window after the
last failure that found the threshold reached; one that flares up again within a window of its
end is the same burst. While it lasts:

- every account may fail only twice an hour (`BURST_FAILURES_PER_HOUR` instead of
  CHECK_FAILURES_PER_HOUR): a typo and one more try;
- a new account that failed waits its turn: its next check runs only once `burst_delay`
  (default 60 seconds) has passed since it asked (at /cek, or at its first NIK + KK). Until
  then it is answered at once, politely, with the time to send the KK number again;
- an account that has not failed this hour, and one with a successful check on record (the
  latest is kept 30 days, bot/services/verified.py), is not slowed: 40 throwaway accounts
  that open a burst do not make every resident wait. Which accounts wait depends only on the
  account's own history, never on the numbers typed: an unknown NIK and a wrong KK number
  still get the same answer through the same statements;
- the admins get one alert through the outbox (keyed by the burst's id), with counts and
  times only: never a NIK or KK number, not even the ones tried.

What an attacker keeps: each account's first guess during a burst is answered at once, and an
account "laundered" by one successful check (their own NIK + KK) is not slowed; either way an
account has at most two failed checks an hour while the burst lasts.

Why a turn to wait for and not a pause: the application handles updates one at a time (PTB's
default, `concurrent_updates` is not set in bot/app.py), so sleeping inside a handler would
stall every other chat, staff at the desks included. Deferring the answer through a job would
keep a status answer (a name, a situation) waiting in memory or the outbox. A refusal with a
time costs nothing while waiting, keeps staff and other flows prompt, and its wait is enforced
by the database (`check_holds`), so it survives restarts and cannot be skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.engine import Connection
from bot.errors import DomainError
from bot.services.roles import accounts_with_role
from bot.storage import attempts
from bot.storage import outbox as outbox_store
from bot.storage.chats import get_locale

BURST_FAILURES_PER_HOUR = 2  # each account's failed checks an hour while a burst lasts
HOLD_KEPT = timedelta(hours=1)  # an account's turn is kept this long after it came


class ChecksSlowed(DomainError):
    """A burst is on and this account's turn has not come; `until` is when it comes (rounded
    up to the minute shown)."""

    template = "citizen/error_check_busy.html"


@dataclass(frozen=True)
class CheckLimits:
    """The per-account lockout and the regency-wide burst rule, from the settings."""

    failures_per_hour: int = 5
    burst_failures: int = 200
    burst_window: timedelta = timedelta(minutes=10)
    burst_delay: timedelta = timedelta(seconds=60)

    @classmethod
    def from_settings(cls, settings: Settings) -> CheckLimits:
        """CHECK_FAILURES_PER_HOUR, CHECK_BURST_FAILURES, _WINDOW_MINUTES, _DELAY_SECONDS."""
        return cls(
            failures_per_hour=settings.check_failures_per_hour,
            burst_failures=settings.check_burst_failures,
            burst_window=settings.check_burst_window,
            burst_delay=settings.check_burst_delay,
        )

    def account_limit(self, *, burst_on: bool) -> int:
        """Failed checks an account may have in an hour."""
        if burst_on:
            return min(self.failures_per_hour, BURST_FAILURES_PER_HOUR)
        return self.failures_per_hour


@dataclass(frozen=True)
class BurstReport:
    """What the admins are told: how many checks failed since when, slowed until when."""

    failures: int
    since: datetime
    until: datetime


@dataclass(frozen=True)
class BurstAlert:
    """How the admins' alert is written: `compose(locale, report)` gives the text."""

    compose: Callable[[str, BurstReport], str]
    default_locale: str = "id"


def burst_on(burst: attempts.BurstRow | None, now: datetime) -> bool:
    """Whether checks are slowed at `now`."""
    return burst is not None and burst.until > now


def slowed(gate: attempts.Gate) -> bool:
    """During a burst: whether this account waits its turn. A new account that failed this
    hour does; one that has not failed, or has a successful check on record, does not."""
    return bool(gate.failures) and gate.last_success is None


def turn_at(hold: datetime | None, limits: CheckLimits, now: datetime) -> datetime | None:
    """When an account that asked at `hold` may check; None when it has no (fresh) turn."""
    if hold is None or hold + limits.burst_delay <= now - HOLD_KEPT:
        return None
    return hold + limits.burst_delay


def shown_time(moment: datetime) -> datetime:
    """`moment` rounded up to the minute: the time a person reads (HH.MM) is never early."""
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


async def take_turn(db: Connection, user_id: int, limits: CheckLimits, *, now: datetime) -> None:
    """Start the account's wait (inside the caller's transaction); forget stale waits."""
    forget_before = now - HOLD_KEPT - limits.burst_delay
    await attempts.start_hold(db, user_id, now=now, forget_before=forget_before)


async def note_failure(
    db: Connection,
    gate: attempts.Gate,
    limits: CheckLimits,
    alert: BurstAlert | None,
    *,
    now: datetime,
) -> attempts.BurstRow | None:
    """After a failed check (inside its transaction): open or prolong a burst when the
    failures in the window reached the threshold; alert the admins when one opens. Returns the
    burst opened now, if any."""
    failures = gate.recent_failures + 1  # this one included
    if failures < limits.burst_failures:
        return None
    until = now + limits.burst_window
    if gate.burst is not None:  # on, or ended less than one window ago: the same burst
        await attempts.extend_burst(db, gate.burst.id, until=until)
        return None
    burst = await attempts.open_burst(db, failures=failures, until=until, now=now)
    if alert is not None:
        report = BurstReport(failures, now - limits.burst_window, until)
        await _plan_alert(db, burst, report, alert, now=now)
    return burst


async def _plan_alert(
    db: Connection,
    burst: attempts.BurstRow,
    report: BurstReport,
    alert: BurstAlert,
    *,
    now: datetime,
) -> None:
    """One alert per admin per burst (staff messages are not held in quiet hours)."""
    for chat_id in await accounts_with_role(db, "admin"):
        locale = await get_locale(db, chat_id) or alert.default_locale
        await outbox_store.insert_message(
            db,
            key=f"check-burst:{burst.id}:{chat_id}",
            chat_id=chat_id,
            kind="staff",
            text=alert.compose(locale, report),
            reply_markup_json=None,
            not_before=now,
            now=now,
        )
