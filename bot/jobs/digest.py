"""The daily digest for staff and admins."""

from __future__ import annotations

from bot.jobs.planning import JobRun
from bot.services import digest, outbox
from bot.services.roles import accounts_with_role


async def plan_daily_digest(run: JobRun) -> int:
    """At 07:00 WIB on opening days: each staff chat gets its open points' day, each admin the
    regency's (when any point is open).

    A digest is about today, so days missed while the bot was down get no late digest.
    """
    messages = []
    for chat_id, points in (await digest.staff_chats(run.db, day=run.day)).items():
        locale = await run.locale(chat_id)
        found = [await digest.point_digest(run.db, point, day=run.day) for point in points]
        text = run.renderer.render(locale, "staff/digest.html", day=run.day, desks=found)
        messages.append(_planned(run, chat_id, text))
    admins = (
        await accounts_with_role(run.db, "admin")
        if await digest.open_points(run.db, run.day)
        else []
    )
    regency = await digest.regency_digest(run.db, day=run.day) if admins else None
    for chat_id in admins:
        locale = await run.locale(chat_id)
        text = run.renderer.render(locale, "admin/digest.html", day=run.day, d=regency)
        messages.append(_planned(run, chat_id, text))
    return await outbox.enqueue_many(run.db, messages, now=run.now, quiet=run.quiet)


def _planned(run: JobRun, chat_id: int, text: str) -> outbox.Planned:
    return outbox.Planned(f"digest:{run.day.isoformat()}:{chat_id}", chat_id, "staff", text)
