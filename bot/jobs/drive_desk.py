"""Mobile recording drives' jobs: the list of tomorrow's drive for the staff who run it (18:00
WIB), and each drive's summary for the admins and the area's officials the morning after
(07:30 WIB, once the night's no-show sweep has run).

Keys name the drive, its day and the chat (`drive:<id>:list:<day>:<chat>:<page>`,
`drive:<id>:outcome:<chat>`): running a job twice sends nothing twice; a drive moved to another
day gets a list for its new day.
"""

from __future__ import annotations

from datetime import timedelta

from bot.jobs.planning import JobRun
from bot.services import drive_desk, outbox
from bot.views import drive_desk as views


async def plan_drive_lists(run: JobRun) -> int:
    """Each drive of tomorrow: its list to the running point's staff group or staff members."""
    planned = []
    for listing, chats in await drive_desk.lists_for(run.db, run.day + timedelta(days=1)):
        drive = listing.drive
        for chat_id in chats:
            pages = views.drive_list(run.renderer, await run.locale(chat_id), listing)
            for number, message in enumerate(pages, start=1):
                key = f"drive:{drive.id}:list:{drive.day.isoformat()}:{chat_id}:{number}"
                planned.append(
                    outbox.Planned(key, chat_id, "staff", message.text, message.keyboard_json())
                )
    return await outbox.enqueue_many(run.db, planned, now=run.now, quiet=run.quiet)


async def plan_drive_outcomes(run: JobRun) -> int:
    """Each drive that is over (yesterday's, and any missed while the bot was down): its
    summary to every admin and to the officials of its area, once."""
    planned = []
    for drive in await drive_desk.finished_drives(run.db, since=run.since, day=run.day):
        summary = await drive_desk.drive_summary(run.db, drive)
        for chat_id in await drive_desk.summary_recipients(run.db, drive):
            message = views.drive_outcome(run.renderer, await run.locale(chat_id), summary)
            key = f"drive:{drive.id}:outcome:{chat_id}"
            planned.append(outbox.Planned(key, chat_id, "staff", message.text))
    return await outbox.enqueue_many(run.db, planned, now=run.now, quiet=run.quiet)
