"""The sandbox clock: real time plus an offset that a visitor moves forward."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import Clock, SystemClock


class ClockError(ValueError):
    """A jump the sandbox refuses (backwards, or too far at once)."""


class SandboxClock:
    """Ticks with `base` (the machine's clock) from `start`; only ever jumps forward."""

    def __init__(self, start: datetime | None = None, *, base: Clock | None = None) -> None:
        self.base = base or SystemClock()
        self.offset = timedelta(0) if start is None else start - self.base.now()

    def now(self) -> datetime:
        """The sandbox's current instant (UTC)."""
        return self.base.now() + self.offset

    def jump_to(self, moment: datetime) -> datetime:
        """Move to `moment` (timezone-aware, later than now); return where it was."""
        if moment.tzinfo is None:
            raise ClockError("a moment needs a timezone")
        before = self.now()
        if moment <= before:
            raise ClockError("the sandbox clock only moves forward")
        self.offset += moment - before
        return before
