"""The staff notices of a booking, kept true (issue 16, outdated staff notices).

Each notice of a new booking shows one version of it (its buttons carry that version). When the
booking changes (moved, cancelled, confirmed by someone, checked in ...) the notices showing an
earlier version are edited once, through the outbox, to say what became of it, and lose their
buttons; one not sent yet is withdrawn. A button pressed on an outdated notice is refused by the
service that would act (frontdesk: OutdatedNotice). Rendering is the caller's: it passes
`describe`, which gives the text replacing a notice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bot.db import transaction
from bot.domain import Booking
from bot.engine import Connection
from bot.storage import booking_notices as store
from bot.storage import outbox as outbox_store
from bot.storage.booking_notices import StaffNotice

__all__ = ["Describe", "StaffNotice", "plan_notices", "retire_outdated"]

Describe = Callable[[StaffNotice], Awaitable[str]]


async def plan_notices(
    db: Connection,
    booking: Booking,
    messages: Sequence[tuple[int, str, str | None]],
    *,
    now: datetime,
) -> int:
    """Plan the booking's notice to each staff chat (chat, text, keyboard JSON), remembering the
    version and slot it shows; once per chat and version. Return how many were new."""
    added = 0
    async with transaction(db):
        for chat_id, text, markup in messages:
            key = f"notice:booking:{booking.id}:v{booking.version}:{chat_id}"
            added += await outbox_store.insert_message(
                db,
                key=key,
                chat_id=chat_id,
                kind="staff",
                text=text,
                reply_markup_json=markup,
                not_before=now,
                now=now,
            )
            await store.insert_notice(
                db, key, booking_id=booking.id, version=booking.version, start_at=booking.start_at
            )
    return added


async def retire_outdated(
    db: Connection, booking: Booking, describe: Describe, *, now: datetime
) -> int:
    """Edit (once) each notice showing an earlier version of `booking` into what `describe`
    says, without buttons; withdraw those not sent yet. A notice being sent at this moment is
    left for the next change (its buttons are refused meanwhile). Return how many edits were
    planned."""
    notices = await store.open_before(db, booking.id, booking.version)
    texts = {n.outbox_id: await describe(n) for n in notices if n.state == "sent"}
    edits = 0
    async with transaction(db):
        for notice in notices:
            if notice.state == "sending":
                continue
            if notice.state == "queued" and not await outbox_store.withdraw_message(
                db, notice.outbox_id, now=now
            ):
                continue  # claimed by the sender meanwhile
            if (
                not await store.retire(db, notice.outbox_id, now=now)
                or notice.outbox_id not in texts
            ):
                continue
            edits += await outbox_store.insert_message(
                db,
                key=f"notice:edit:{notice.outbox_id}",
                chat_id=notice.chat_id,
                kind="staff",
                text=texts[notice.outbox_id],
                reply_markup_json=None,
                not_before=now,
                now=now,
                edit_message_id=notice.message_id,
            )
    return edits
