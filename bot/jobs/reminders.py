"""Reminder planners: teens turning 17, the recording deadline, deactivated NIKs, bookings."""

from __future__ import annotations

from bot.jobs.registry import JobRun


async def plan_teen_reminders(run: JobRun) -> int:
    raise NotImplementedError("teen-reminders: being written")


async def plan_deadline_reminders(run: JobRun) -> int:
    raise NotImplementedError("deadline-reminders: being written")


async def plan_deactivated_reminders(run: JobRun) -> int:
    raise NotImplementedError("deactivated-reminders: being written")


async def plan_booking_reminders(run: JobRun) -> int:
    raise NotImplementedError("booking-reminders: being written")
