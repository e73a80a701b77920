"""The workers' one sending budget (several workers on one database, bot/workers.py): never more
than `rate` messages reach Telegram within one second, from all the workers together, however
late each of them is.

A message reaches Telegram no earlier than the moment it was granted (its worker waits for it)
and no later than the moment its worker reports it done (Telegram has answered by then). So a
message is counted as *busy* from its grant until one second after it was reported done, and a
moment is granted only while fewer than `rate` messages are busy at it. Then no second at
Telegram holds more than `rate`: of the messages arriving within one second, the one granted
last was granted less than a second before that second ended, and each of the others had been
granted before it and was either not yet done or done within the second before its grant, so
was counted busy. Lateness (a worker's busy event loop, a slow network, a loaded server) keeps
a message busy longer; it never puts one more into a second. All moments are the database
server's clock: the workers' clocks need not agree.

Grants are spaced 1/rate apart, so a broadcast goes out evenly rather than `rate` at once. A
reply takes the first moment with room, even one ahead; the outbox only a moment that is free
now, and leaves a tenth of the budget to replies: replies waiting go first. A grant never
reported done (its worker was killed) is given up after LOST_AFTER seconds: a worker starts a
send at most LATE_START seconds after its moment (later, it gives the grant up and takes
another), and bot/http.py gives a request up after at most 25 s (5 to read, 20 to write a
file): by then it has reached Telegram or never will.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.domain import SendGrants
from bot.engine import Connection
from bot.storage import send_budget

WINDOW = 1.0  # seconds: Telegram counts messages per second
LATE_START = 2.0  # seconds after its moment a send may start at the latest (bot/ratelimit.py)
LOST_AFTER = 30.0  # seconds after which a grant never reported done is given up
REPLY_HOLD = 3  # moments a reply that found no room holds the outbox back while it asks again


@dataclass(frozen=True)
class Turn:
    """A grant's number and the seconds from now to its moment; or no grant (None) and the
    seconds after which to ask again. `now`: the clock it was decided by."""

    grant: int | None
    wait: float
    now: float = 0.0


def grant(state: SendGrants, *, now: float, rate: int, background: bool) -> tuple[SendGrants, Turn]:
    """The rule: the next moment at which fewer than the limit are busy (the module's
    docstring). A reply takes the first such moment, even ahead; one that finds none (they
    depend on sends not answered yet) holds the outbox back for a few moments while it asks
    again. The outbox (`background`) takes only the next moment, if it is free now and no reply
    is waiting, within nine tenths of `rate`. Returns the new state and the turn (refused: the
    state to write, None if nothing changed)."""
    state = _forget(state, now)
    moment = max(now, state.next_at)
    if background and (moment > now or state.replies_waiting > now):
        return state, Turn(None, max(moment, state.replies_waiting) - now)
    limit = rate - rate // 10 if background else rate
    if _busy(state, moment) >= limit:
        room = _room(state, moment, limit)
        if room is None and not background:
            waiting = replace(state, replies_waiting=now + REPLY_HOLD / rate)
            return waiting, Turn(None, 1 / rate)
        if background or room is None:
            return state, Turn(None, (moment + 1 / rate if room is None else room) - now)
        moment = room
    number = state.last + 1
    taken = replace(
        state, next_at=moment + 1 / rate, open={**state.open, number: moment}, last=number
    )
    return taken, Turn(number, moment - now)


def release(state: SendGrants, number: int, *, now: float) -> SendGrants:
    """Grant `number`'s message was answered (or never sent) by `now`: busy one second more.
    (Nothing is forgotten here: `now` may be ahead of the clock that grants.)"""
    left = {n: at for n, at in state.open.items() if n != number}
    return replace(state, open=left, done=(*state.done, now))


def _busy(state: SendGrants, moment: float) -> int:
    return len(state.open) + sum(1 for at in state.done if at + WINDOW > moment)


def _room(state: SendGrants, moment: float, limit: int) -> float | None:
    """The first moment from `moment` on at which fewer than `limit` are busy; None if that
    depends on messages not answered yet."""
    room = limit - 1 - len(state.open)  # answered ones that may still be busy then
    done = sorted(at + WINDOW for at in state.done if at + WINDOW > moment)
    if room < 0:
        return None
    return done[len(done) - room - 1] if room < len(done) else moment


def _forget(state: SendGrants, now: float) -> SendGrants:
    """Drop what no moment from `now` on counts: sends done a second ago, grants lost."""
    return replace(
        state,
        open={n: at for n, at in state.open.items() if at > now - LOST_AFTER},
        done=tuple(at for at in state.done if at + WINDOW > now),
    )


async def take(db: Connection, *, rate: int, background: bool, now: float | None = None) -> Turn:
    """Take a moment from the budget (`grant`). `now`: the database server's clock unless given
    (tests give it)."""
    while True:
        state, version, server_now = await send_budget.read(db)
        at = server_now if now is None else now
        after, turn = grant(state, now=at, rate=rate, background=background)
        changed = turn.grant is not None or after.replies_waiting != state.replies_waiting
        if not changed or await send_budget.write(db, after, version=version):
            return replace(turn, now=at)


async def done(db: Connection, number: int, *, now: float | None = None) -> None:
    """Report grant `number`'s message answered by Telegram, or given up unsent (`release`), by
    `now` on the server's clock (a moment no earlier than the answer; the clock's now if not
    given)."""
    await done_many(db, {number: now})


async def done_many(db: Connection, answered: Mapping[int, float | None]) -> None:
    """Report several grants' messages answered (`done`), in one write."""
    while True:
        state, version, server_now = await send_budget.read(db)
        after = state
        for number, at in answered.items():
            after = release(after, number, now=server_now if at is None else at)
        if await send_budget.write(db, after, version=version):
            return
