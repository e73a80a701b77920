"""The escalation job (16:00 WIB): a booking still pending the day before its visit goes to
every admin once, with a button to confirm it.

Keys name the booking, its visit time and the admin (`booking:<id>:escalated:<start>:<admin>`):
running the job twice sends each admin one message per booking.
"""

from __future__ import annotations

from bot.jobs.planning import JobRun
from bot.services import escalation, outbox
from bot.services.directory import get_service_point
from bot.views import bookings as views


async def plan_escalations(run: JobRun) -> int:
    """Queue one message per admin for each booking of tomorrow nobody has confirmed."""
    due = await escalation.unconfirmed_for_tomorrow(
        run.db, since=run.since, day=run.day, now=run.now
    )
    admins = await escalation.admins(run.db) if due else []
    planned = []
    for booking in due:
        point = await get_service_point(run.db, booking.service_point)
        for admin in admins:
            message = views.escalated(run.renderer, await run.locale(admin), booking, point)
            key = escalation.escalation_key(booking, admin)
            planned.append(
                outbox.Planned(key, admin, "staff", message.text, message.keyboard_json())
            )
    return await outbox.enqueue_many(run.db, planned, now=run.now, quiet=run.quiet)
