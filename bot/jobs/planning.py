"""What a planner is given and returns: the leaf that the planners and the registry both import.

A planner looks at the database as of `JobRun.day`/`JobRun.now`, writes the messages it decides
on to the outbox (each under an idempotency key, so planning twice sends once) and returns how
many it planned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.config import Settings
from bot.engine import Connection
from bot.rendering import Renderer
from bot.services.directory import get_locale


@dataclass(frozen=True)
class JobRun:
    """One run of a job: the day it plans for, the moment it runs, what it needs."""

    db: Connection
    renderer: Renderer
    settings: Settings
    day: date  # the WIB day being planned
    now: datetime  # UTC; the job's scheduled moment for run-job, the real moment otherwise
    since: date  # first day not covered by an earlier run (== day unless runs were missed)

    @property
    def quiet(self) -> tuple[time, time] | None:
        return self.settings.quiet_hours

    async def locale(self, chat_id: int) -> str:
        """The chat's language, else the configured default."""
        return await get_locale(self.db, chat_id) or self.settings.default_locale


Planner = Callable[[JobRun], Awaitable[int]]
