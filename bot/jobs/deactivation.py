"""The annual deactivation: after the deadline, a preview for the admins to approve."""

from __future__ import annotations

from bot.jobs.registry import JobRun


async def plan_deactivation_preview(run: JobRun) -> int:
    raise NotImplementedError("deactivation-preview: being written")
