"""Faults a test injects into the local Bot API server, and Telegram's sending limits.

`Faults` decides, before a call reaches the simulation, whether Telegram would answer it at
all: scripted one-shot failures of the next send calls (429 with retry_after, 5xx, a dropped
connection), a whole outage (`down()` until `up()`), and optionally Telegram's flood limits
(messages per second overall, per chat, per group per minute) on sliding windows of the
server's monotonic clock. It also records when each chat received each accepted send, and can
withhold the answers to accepted sends (`hold_answers`): the message is delivered, the bot waits,
as it would for a Telegram that is slow to answer, until `release()`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendVenue"})
GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Flood:
    """Answer 429 Too Many Requests with `retry_after` seconds."""

    retry_after: int


@dataclass(frozen=True)
class ServerError:
    """Answer an HTTP 5xx."""

    status: int


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer."""


Fault = Flood | ServerError | Drop


@dataclass(frozen=True)
class Limits:
    """Telegram's sending limits, as the server enforces them."""

    per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20


class Window:
    """Moments of accepted sends within the last `span` seconds."""

    def __init__(self, span: float) -> None:
        """An empty sliding window `span` seconds wide."""
        self.span = span
        self.moments: deque[float] = deque()

    def wait(self, limit: int, at: float) -> float:
        """Seconds until one more send fits under `limit` (0 if it fits now)."""
        while self.moments and self.moments[0] <= at - self.span:
            self.moments.popleft()
        if len(self.moments) < limit:
            return 0.0
        return self.moments[len(self.moments) - limit] + self.span - at

    def add(self, at: float) -> None:
        """Count a send at `at`."""
        self.moments.append(at)


class Faults:
    """What goes wrong with the next calls, and the limits the server enforces."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """No faults, no limits; `clock` is the server's monotonic time."""
        self.clock = clock
        self.is_down = False
        self.limits: Limits | None = None
        self.flood_count = 0
        self.injected: Counter[str] = Counter()
        self.received: dict[int, list[float]] = {}
        self.accepted_sends = 0
        self.withheld: list[int] = []  # chats of the delivered sends whose answer was withheld
        self._hold_from: int | None = None  # withhold the answers from this accepted send on
        self._hold_chat: int | None = None  # ... only those to this chat (None: to any)
        self._released = asyncio.Event()
        self._script: deque[Fault] = deque()
        self._overall = Window(1.0)
        self._chats: dict[int, Window] = {}
        self._groups: dict[int, Window] = {}

    # ----- what a test scripts -----

    def flood(self, retry_after: int = 3, *, times: int = 1) -> None:
        """The next `times` send calls answer 429 with `retry_after` seconds."""
        self._script.extend([Flood(retry_after)] * times)

    def server_error(self, *, times: int = 1, status: int = 502) -> None:
        """The next `times` send calls answer HTTP `status` (a 5xx)."""
        if not 500 <= status <= 599:
            raise ValueError(f"not a server error status: {status}")
        self._script.extend([ServerError(status)] * times)

    def drop_connections(self, *, times: int = 1) -> None:
        """The next `times` send calls lose their connection before Telegram sees them."""
        self._script.extend([Drop()] * times)

    def down(self) -> None:
        """Every request fails at the connection level until `up()`."""
        self.is_down = True

    def up(self) -> None:
        """Requests reach the server again."""
        self.is_down = False

    def enforce_limits(
        self, per_second: int = 30, per_chat_per_second: int = 1, per_group_per_minute: int = 20
    ) -> None:
        """Answer 429 (with the right retry_after) to sends beyond Telegram's limits."""
        self.limits = Limits(per_second, per_chat_per_second, per_group_per_minute)

    def hold_answers(self, *, after: int = 0, chat_id: int | None = None) -> None:
        """Answer the next `after` accepted sends; deliver those after them but withhold their
        answers until `release()` (a kill meanwhile leaves them unanswered). With `chat_id`,
        only the sends to that chat are withheld."""
        self._hold_from = self.accepted_sends + after
        self._hold_chat = chat_id
        self._released.clear()

    def release(self) -> None:
        """Answer the withheld sends and stop withholding."""
        self._hold_from = None
        self._released.set()

    def clear(self) -> None:
        """Forget scripted faults, the outage, the limits and held answers (counters stay)."""
        self._script.clear()
        self.is_down = False
        self.limits = None
        self.release()

    @property
    def pending(self) -> int:
        """Scripted faults not served yet."""
        return len(self._script)

    # ----- what the server asks -----

    def next_fault(self, method: str, chat_id: int | None, *, group: bool) -> Fault | None:
        """The fault this call meets, if any: scripted first, then the limits."""
        if method not in SEND_METHODS:
            return None
        if self._script:
            fault = self._script.popleft()
            self.injected[type(fault).__name__] += 1
            return fault
        wait = self._limit_wait(chat_id, group=group)
        if wait <= 0:
            return None
        self.flood_count += 1
        return Flood(max(1, math.ceil(wait)))

    def _limit_wait(self, chat_id: int | None, *, group: bool) -> float:
        """Seconds until this send fits within the limits (0: it fits now)."""
        if self.limits is None or chat_id is None:
            return 0.0
        at = self.clock()
        waits = [
            self._overall.wait(self.limits.per_second, at),
            self._chat(chat_id).wait(self.limits.per_chat_per_second, at),
        ]
        if group:
            waits.append(self._group(chat_id).wait(self.limits.per_group_per_minute, at))
        return max(waits)

    def accepted(self, method: str, chat_id: int | None, *, group: bool) -> bool:
        """A send went through: count it in the windows and in `received`; True if its answer
        is to be withheld (see `answer`)."""
        if method not in SEND_METHODS or chat_id is None:
            return False
        self.accepted_sends += 1
        held = (
            self._hold_from is not None
            and self.accepted_sends > self._hold_from
            and self._hold_chat in (None, chat_id)
        )
        if held:
            self.withheld.append(chat_id)
        at = self.clock()
        self._overall.add(at)
        self._chat(chat_id).add(at)
        if group:
            self._group(chat_id).add(at)
        if method == "sendMessage":
            self.received.setdefault(chat_id, []).append(at)
        return held

    async def answer(self) -> None:
        """Return when a withheld answer may go."""
        await self._released.wait()

    def _chat(self, chat_id: int) -> Window:
        return self._chats.setdefault(chat_id, Window(1.0))

    def _group(self, chat_id: int) -> Window:
        return self._groups.setdefault(chat_id, Window(60.0))


def flood_body(retry_after: int) -> dict[str, Any]:
    """Telegram's 429 answer."""
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }
