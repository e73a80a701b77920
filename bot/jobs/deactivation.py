"""The annual deactivation: after the deadline, a preview for the admins to approve."""

from __future__ import annotations

from bot.jobs.planning import JobRun
from bot.services import deactivation, outbox
from bot.services.roles import accounts_with_role
from bot.views import deactivation as views


async def plan_deactivation_preview(run: JobRun) -> int:
    """On a day after a cycle's deadline, store its preview once and send it to every admin.

    Missed days need no catch-up: the first run after the deadline prepares the preview. Until
    an admin approves, later runs plan the same keys again (a no-op, except for a new admin).
    """
    prepared = await deactivation.prepare_preview(run.db, day=run.day, now=run.now)
    if prepared.applied:
        return 0
    elsewhere = await deactivation.cohort_elsewhere(run.db, prepared)
    messages = []
    for chat_id in await accounts_with_role(run.db, "admin"):
        locale = await run.locale(chat_id)
        message = views.preview(run.renderer, locale, prepared, elsewhere)
        key = f"deactivation-preview:{prepared.cycle.deadline.isoformat()}:{chat_id}"
        messages.append(
            outbox.Planned(key, chat_id, "staff", message.text, message.keyboard_json())
        )
    return await outbox.enqueue_many(run.db, messages, now=run.now, quiet=run.quiet)
