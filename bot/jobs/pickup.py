"""The card-pickup job: remind citizens of a ready card's pick-up deadline, 7 days and 1 day
before it; after it, the ticket becomes not_collected and the citizen is told what to do.

Keys name the ticket by its id only (`ticket:<id>:pickup-7`), never the person: planning a day
twice queues each message once. Kind 'reminder': held in the quiet hours.
"""

from __future__ import annotations

from bot.jobs.planning import JobRun
from bot.services import outbox
from bot.services.directory import get_service_point
from bot.services.tickets import expire_pick_ups, pick_up_reminders
from bot.views import tickets as views


async def plan_card_pickup(run: JobRun) -> int:
    """Queue the pick-up reminders due from `since` to `day`, then expire past deadlines."""
    planned = []
    for due in await pick_up_reminders(run.db, since=run.since, day=run.day):
        ticket = due.ticket
        locale = await run.locale(ticket.chat_id)
        point = await get_service_point(run.db, ticket.service_point)
        assert ticket.ready_until is not None  # a ready ticket has its deadline
        left = (ticket.ready_until - run.day).days  # after a missed run, fewer than the point's
        text = views.pick_up_reminder(run.renderer, locale, ticket, point, left)
        key = f"ticket:{ticket.id}:pickup-{due.days_left}"
        planned.append(outbox.Planned(key, ticket.chat_id, "reminder", text))
    for ticket in await expire_pick_ups(run.db, since=run.since, day=run.day, now=run.now):
        locale = await run.locale(ticket.chat_id)
        point = await get_service_point(run.db, ticket.service_point)
        text = views.citizen_state(run.renderer, locale, ticket, point).text
        key = f"ticket:{ticket.id}:not-collected"
        planned.append(outbox.Planned(key, ticket.chat_id, "reminder", text))
    return await outbox.enqueue_many(run.db, planned, now=run.now, quiet=run.quiet)
