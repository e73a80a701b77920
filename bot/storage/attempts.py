"""Status-check attempts per Telegram account (for the failed-check lockout), and the
regency-wide bursts of failed checks with the accounts waiting their turn during one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.engine import Connection


@dataclass(frozen=True)
class BurstRow:
    """A stored burst: checks are slowed until `until`."""

    id: int
    started_at: datetime
    until: datetime


@dataclass(frozen=True)
class Gate:
    """What decides whether an account may check now, read in one statement."""

    failures: list[datetime]  # the account's failed attempts since `hour_ago`, oldest first
    recent_failures: int  # failed attempts of every account since `window_start`
    burst: BurstRow | None  # the latest burst still on after `window_start`, if any
    hold: datetime | None  # when the account asked to check during a burst, if it did
    last_success: datetime | None = None  # the account's latest successful check still kept


# One trip to the database thread (it runs before every status check): the compound SELECT
# tags each row with what it is.
_GATE = (
    "SELECT 'failure', at, NULL, NULL FROM check_attempts"
    " WHERE user_id = :user AND succeeded = 0 AND at > :hour_ago"
    " UNION ALL SELECT 'recent', NULL, count(*), NULL FROM check_attempts"
    " WHERE succeeded = 0 AND at > :window_start"
    " UNION ALL SELECT * FROM (SELECT 'burst', until, id, started_at FROM check_bursts"
    " WHERE until > :window_start ORDER BY until DESC LIMIT 1) AS latest"
    " UNION ALL SELECT 'hold', asked_at, NULL, NULL FROM check_holds WHERE user_id = :user"
    " UNION ALL SELECT 'success', at, NULL, NULL FROM check_attempts"
    " WHERE user_id = :user AND succeeded = 1"
)


async def record_attempt(db: Connection, user_id: int, *, succeeded: bool, now: datetime) -> None:
    """Write one attempt; a success writes over the account's previous one (only the latest
    is kept, by a unique index)."""
    await db.execute(
        "INSERT INTO check_attempts (user_id, at, succeeded) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id) WHERE succeeded = 1 DO UPDATE SET at = excluded.at",
        (user_id, now.isoformat(), int(succeeded)),
    )


async def read_gate(
    db: Connection,
    user_id: int,
    *,
    hour_ago: datetime,
    window_start: datetime,
) -> Gate:
    """The account's recent failures, everyone's failures in the burst window, the latest
    burst, the account's hold and its latest success, in one statement."""
    rows = await db.execute_fetchall(
        _GATE,
        {
            "user": user_id,
            "hour_ago": hour_ago.isoformat(),
            "window_start": window_start.isoformat(),
        },
    )
    failures: list[datetime] = []
    recent, burst, hold, success = 0, None, None, None
    for kind, at, number, started_at in rows:
        if kind == "failure":
            failures.append(datetime.fromisoformat(at))
        elif kind == "recent":
            recent = int(number)
        elif kind == "burst":
            burst = BurstRow(
                int(number), datetime.fromisoformat(started_at), datetime.fromisoformat(at)
            )
        elif kind == "hold":
            hold = datetime.fromisoformat(at)
        else:
            success = datetime.fromisoformat(at)  # one per account (a unique index)
    return Gate(sorted(failures), recent, burst, hold, success)


async def open_burst(db: Connection, *, failures: int, until: datetime, now: datetime) -> BurstRow:
    """Store a new burst; slowed until `until`."""
    ((burst_id,),) = await db.execute_fetchall(
        "INSERT INTO check_bursts (started_at, failures, until) VALUES (?, ?, ?) RETURNING id",
        (now.isoformat(), failures, until.isoformat()),
    )
    return BurstRow(burst_id, now, until)


async def extend_burst(db: Connection, burst_id: int, *, until: datetime) -> None:
    """Move a burst's end (never earlier than it was)."""
    await db.execute(  # a condition: max() is greatest() on PostgreSQL
        "UPDATE check_bursts SET until = ? WHERE id = ? AND until < ?",
        (until.isoformat(), burst_id, until.isoformat()),
    )


async def start_hold(
    db: Connection, user_id: int, *, now: datetime, forget_before: datetime
) -> None:
    """Note that the account asked to check at `now` (replacing an older hold), and forget
    holds from before `forget_before` (accounts that never came back)."""
    await db.execute("DELETE FROM check_holds WHERE asked_at < ?", (forget_before.isoformat(),))
    await db.execute(
        "INSERT INTO check_holds (user_id, asked_at) VALUES (?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET asked_at = excluded.asked_at",
        (user_id, now.isoformat()),
    )


async def end_hold(db: Connection, user_id: int) -> None:
    """The account's turn came: its next check during a burst waits again."""
    await db.execute("DELETE FROM check_holds WHERE user_id = ?", (user_id,))


async def delete_attempts(db: Connection, user_id: int, *, keep_after: datetime) -> None:
    """Forget an account's attempts, except failures after `keep_after` (the lockout needs
    them), and its place in a burst's wait."""
    await db.execute(
        "DELETE FROM check_attempts WHERE user_id = ? AND (succeeded = 1 OR at <= ?)",
        (user_id, keep_after.isoformat()),
    )
    await end_hold(db, user_id)


async def delete_successes_before(db: Connection, before: datetime) -> int:
    """Forget successful attempts made before `before`; return how many."""
    cursor = await db.execute(
        "DELETE FROM check_attempts WHERE succeeded = 1 AND at < ?", (before.isoformat(),)
    )
    return cursor.rowcount
