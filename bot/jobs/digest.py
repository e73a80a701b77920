"""The daily digest for staff and admins."""

from __future__ import annotations

from bot.jobs.registry import JobRun


async def plan_daily_digest(run: JobRun) -> int:
    raise NotImplementedError("daily-digest: being written")
