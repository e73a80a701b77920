"""Queue jobs: expire held waitlist offers (and offer the next in line); the no-show sweep."""

from __future__ import annotations

import secrets

from bot.context import Context, chat_locale, deps
from bot.domain import Booking, Offer
from bot.jobs.planning import JobRun
from bot.services import outbox, staff_notices
from bot.services.directory import get_resident, get_service_point
from bot.services.no_shows import sweep_no_shows
from bot.services.waitlist import expire_offers_and_tell
from bot.views import bookings, waitlist


async def expire_waitlist_offers(context: Context) -> None:
    """Offers not taken within 10 minutes go to the next person waiting."""
    d = deps(context)
    offers = []
    ended, fresh = await expire_offers_and_tell(d.db, now=d.now())
    for expired in ended:
        offers += await _offer_ended(context, expired)
    for offer in fresh:
        locale = await chat_locale(context, offer.chat_id)
        point = await get_service_point(d.db, offer.service_point)
        message = waitlist.offer(d.renderer, locale, offer, point)
        key = f"notice:offer:{offer.id}:{secrets.token_hex(8)}"  # as handlers' notices
        offers.append(
            outbox.Planned(key, offer.chat_id, "booking", message.text, message.keyboard_json())
        )
    if await outbox.enqueue_many(d.db, offers, now=d.now(), quiet=d.settings.quiet_hours):
        _wake_sender(context)


async def _offer_ended(context: Context, expired: Offer) -> list[outbox.Planned]:
    """The expired offer's message, if sent, is edited to say so and loses its "take" button;
    if not sent yet, it is withdrawn."""
    d = deps(context)
    locale = await chat_locale(context, expired.chat_id)
    point = await get_service_point(d.db, expired.service_point)
    text, _ = waitlist.offer_ended(d.renderer, locale, expired, point)
    return await outbox.retract(d.db, f"notice:offer:{expired.id}:", text, now=d.now())


async def plan_no_show_sweep(run: JobRun) -> int:
    """At day's end, the day's unattended bookings become no-shows; the citizens are told, and
    the staff notices of those still pending say so."""
    notices = []
    edits = 0
    for booking in await sweep_no_shows(run.db, day=run.day, now=run.now):
        edits += await staff_notices.retire_outdated(
            run.db, booking, describe_outdated(run, booking), now=run.now
        )
        locale = await run.locale(booking.chat_id)
        point = await get_service_point(run.db, booking.service_point)
        resident = await get_resident(run.db, booking.nik)
        person = resident.nama if resident else ""
        text, _ = bookings.changed(run.renderer, locale, booking, point, person=person)
        key = f"booking:{booking.id}:no-show"  # told in the morning: the sweep runs at 23:30
        notices.append(outbox.Planned(key, booking.chat_id, "reminder", text))
    return edits + await outbox.enqueue_many(run.db, notices, now=run.now, quiet=run.quiet)


def describe_outdated(run: JobRun, booking: Booking) -> staff_notices.Describe:
    """What replaces an outdated staff notice of `booking`, in its chat's language."""

    async def describe(shown: staff_notices.StaffNotice) -> str:
        return bookings.staff_outdated(
            run.renderer, await run.locale(shown.chat_id), booking, shown
        )

    return describe


def _wake_sender(context: Context) -> None:
    sender = context.bot_data.get("sender")
    if sender is not None:
        sender.wake()
