"""A drive changed or cancelled from the command line (`dukcapil-bot cancel-drive`): the people
whose bookings it cancelled are told through the outbox, with the button to book again, and the
staff notices of those bookings are edited, as /keliling does in the chat."""

from __future__ import annotations

import secrets

from bot.jobs.planning import JobRun
from bot.jobs.queue import describe_outdated
from bot.services import outbox, staff_notices
from bot.services.directory import get_resident, get_service_point
from bot.services.drives import DriveChange
from bot.views import bookings


async def plan_drive_notices(run: JobRun, change: DriveChange, template: str) -> int:
    """Plan the notice of each cancelled booking (`template`: citizen/drive_cancelled.html or
    drive_moved.html) and the edits of its staff notices; return how many messages."""
    notices = []
    edits = 0
    for booking in change.cancelled:
        edits += await staff_notices.retire_outdated(
            run.db, booking, describe_outdated(run, booking), now=run.now
        )
        resident = await get_resident(run.db, booking.nik)
        message = bookings.changed(
            run.renderer,
            await run.locale(booking.chat_id),
            booking,
            await get_service_point(run.db, booking.service_point),
            person=resident.nama if resident else "",
            template=template,
            drive=change.drive,
        )
        key = f"notice:booking:{booking.id}:{secrets.token_hex(8)}"  # as the chat's notices
        notices.append(
            outbox.Planned(key, booking.chat_id, "booking", message.text, message.keyboard_json())
        )
    return edits + await outbox.enqueue_many(run.db, notices, now=run.now, quiet=run.quiet)
