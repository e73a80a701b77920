"""Queue jobs: expire held waitlist offers (and offer the next in line); the no-show sweep."""

from __future__ import annotations

from bot.context import Context, deps
from bot.handlers.notify import offer_place
from bot.jobs.planning import JobRun
from bot.services import outbox, staffdesk
from bot.services.directory import get_resident, get_service_point
from bot.services.waitlist import expire_offers


async def expire_waitlist_offers(context: Context) -> None:
    """Offers not taken within 10 minutes go to the next person waiting."""
    d = deps(context)
    for offer in await expire_offers(d.db, now=d.now()):
        await offer_place(context, offer)


async def plan_no_show_sweep(run: JobRun) -> int:
    """At day's end, the day's unattended bookings become no-shows; the citizens are told."""
    notices = []
    for booking in await staffdesk.sweep_no_shows(run.db, day=run.day, now=run.now):
        locale = await run.locale(booking.chat_id)
        point = await get_service_point(run.db, booking.service_point)
        resident = await get_resident(run.db, booking.nik)
        text = run.renderer.render(
            locale, "citizen/booking_state.html", b=booking, point=point,
            person=resident.nama if resident else "",
        )  # fmt: skip
        key = f"booking:{booking.id}:no-show"  # told in the morning: the sweep runs at 23:30
        notices.append(outbox.Planned(key, booking.chat_id, "reminder", text))
    return await outbox.enqueue_many(run.db, notices, now=run.now, quiet=run.quiet)
