"""Messages to people on the waitlist."""

from __future__ import annotations

from bot.domain import Offer, ServicePoint
from bot.rendering import Renderer
from bot.views import Message, keyboard


def offer(renderer: Renderer, locale: str, offer: Offer, point: ServicePoint | None) -> Message:
    """A freed place, held for the first person waiting, with a button to take it."""
    text = renderer.render(locale, "citizen/waitlist_offer.html", offer=offer, point=point)
    return Message(text, keyboard(renderer, locale, [[("waitlist_take", f"wl:take:{offer.id}")]]))


def offer_ended(
    renderer: Renderer, locale: str, offer: Offer, point: ServicePoint | None
) -> Message:
    """An offer not taken in time: it went to the next in line; the person still waits."""
    return Message(
        renderer.render(locale, "citizen/waitlist_offer_ended.html", offer=offer, point=point)
    )
