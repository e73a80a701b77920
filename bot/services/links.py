"""Linking a chat to a verified resident or household for reminders, and erasing it all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.db import transaction, vault_of
from bot.domain import HOLDING_STATES, Resident
from bot.engine import Connection
from bot.errors import DomainError
from bot.services import outbox
from bot.services.booking import cancel, chat_bookings
from bot.services.lockout import WINDOW
from bot.storage import attempts, chats, elsewhere, links
from bot.storage.residents import get_resident, list_household
from bot.storage.waitlist import Offer


class LinkNotFound(DomainError):
    """The link is gone or belongs to another chat (an old or forged button)."""

    template = "citizen/error_stale_button.html"


@dataclass(frozen=True)
class LinkView:
    """A link with the people it covers, for the /pengingat list."""

    link: links.Link
    people: list[Resident]


async def link_chat(
    db: Connection, chat_id: int, resident: Resident, *, household: bool, now: datetime
) -> bool:
    """Link the chat to the resident (or their whole KK); True when the link is new."""
    kind, subject = ("household", resident.no_kk) if household else ("nik", resident.nik)
    async with transaction(db):
        await chats.ensure_chat(db, chat_id, locale="id", now=now)
        return await links.insert_link(db, chat_id, kind, subject, now=now)


async def chat_links(db: Connection, chat_id: int) -> list[LinkView]:
    """The chat's links with the residents each one covers."""
    views = []
    for link in await links.list_links(db, chat_id):
        if link.kind == "household":
            people = await list_household(db, link.subject)
        else:
            resident = await get_resident(db, link.subject)
            people = [resident] if resident else []
        views.append(LinkView(link, people))
    return views


async def toggle_reminders(db: Connection, chat_id: int, link_id: int, *, now: datetime) -> bool:
    """Flip reminders for one of the chat's links; return the new state. Switched off, the
    link's reminders still waiting in the outbox (for the morning) are withdrawn."""
    async with transaction(db):
        link = await links.get_link(db, link_id, chat_id)
        if link is None:
            raise LinkNotFound()
        await links.set_reminders(db, link_id, on=not link.reminders_on)
        if link.reminders_on:
            await _withdraw_reminders(db, link, now=now)
    return not link.reminders_on


async def unlink(
    db: Connection,
    chat_id: int,
    link_id: int,
    *,
    now: datetime,
) -> None:
    """Remove one of the chat's links, its reminders still waiting in the outbox, and its
    reports that someone lives elsewhere about people no other link of the chat covers."""
    async with transaction(db):
        link = await links.get_link(db, link_id, chat_id)
        if link is None:
            raise LinkNotFound()
        await links.delete_link(db, link_id)
        await _withdraw_reminders(db, link, now=now)
        await elsewhere.drop_unlinked(db, chat_id)  # reports about people no longer linked


async def _withdraw_reminders(db: Connection, link: links.Link, *, now: datetime) -> None:
    """Withdraw the queued reminders about the people the link covers, to its chat."""
    if link.kind == "household":
        niks = [person.nik for person in await list_household(db, link.subject)]
    else:
        niks = [link.subject]
    vault = vault_of(db)
    await outbox.withdraw_about(db, link.chat_id, [vault.ref(nik) for nik in niks], now=now)


async def erase_chat(
    db: Connection,
    chat_id: int,
    user_id: int,
    *,
    now: datetime,
) -> list[Offer]:
    """Remove what the bot holds about a chat: language, links, check history; its active
    bookings are cancelled (their places offered to the waitlist, returned) and its bookings,
    waitlist entries and tickets no longer point at it; its queued messages are withdrawn, and
    all its messages blanked and cut loose from the chat (no chat id, no key naming the chat or
    the resident). Failed checks of the last hour stay, or erasing would reset the lockout:
    an account id, a time and an outcome, nothing that leads to a resident."""
    offers = []
    for booking in await chat_bookings(db, chat_id):
        if booking.state in HOLDING_STATES and booking.start_at > now:
            _, offer = await cancel(db, booking.id, chat_id=chat_id, now=now)
            offers += [offer] if offer else []
    async with transaction(db):
        await chats.delete_chat(db, chat_id)
        await chats.forget_chat_everywhere(db, chat_id)
        await outbox.forget_chat(db, chat_id, now=now)
        await attempts.delete_attempts(db, user_id, keep_after=now - WINDOW)
    return offers
