"""Queue jobs: expire held waitlist offers (and offer the next in line); the no-show sweep."""

from __future__ import annotations

from bot.handlers.common import Context, deps
from bot.handlers.notify import offer_place, tell_citizen
from bot.services import staffdesk
from bot.services.waitlist import expire_offers


async def expire_waitlist_offers(context: Context) -> None:
    """Offers not taken within 10 minutes go to the next person waiting."""
    d = deps(context)
    for offer in await expire_offers(d.db, now=d.now()):
        await offer_place(context, offer)


async def sweep_no_shows(context: Context) -> None:
    """At day's end, today's unattended bookings become no-shows; the citizens are told."""
    d = deps(context)
    for booking in await staffdesk.sweep_no_shows(d.db, day=d.today(), now=d.now()):
        await tell_citizen(context, booking, "citizen/booking_state.html")
