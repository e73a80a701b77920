"""Damaged and lost e-KTP cards: the citizen's report and the staff's steps to a free replacement.

reported → verified → printed → ready → handed_over, or rejected from reported/verified. A card
not picked up by its deadline (`ready_until`) becomes not_collected; staff may still hand it over.
Each staff step is a conditional update in one write transaction (a second tap or a stale button
changes nothing and raises TicketNotChangeable), appends a ticket_events row and is audited
with the actor and the ticket number, never a full NIK; refusals are audited too.
"""

from __future__ import annotations

import random
import re
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from bot.db import transaction
from bot.domain import DAMAGE_CAUSES, TICKET_KINDS, RoleUser, Ticket, TicketEvent
from bot.engine import Connection, IntegrityError
from bot.errors import DomainError, WrongServicePoint
from bot.nik import mask_numbers_in
from bot.services.audit import audited, record_audit
from bot.services.booking_rules import CODE_ALPHABET, CODE_LENGTH, new_code
from bot.services.schedule import wib_day
from bot.services.staff_actions import clean_reason, require_role
from bot.storage import destruction, tickets
from bot.storage.service_points import get_service_point

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILE_MB = MAX_FILE_BYTES // (1024 * 1024)
PICK_UP_DAYS = 30
PICK_UP_REMINDERS = (7, 1)  # days before the pick-up deadline the citizen is reminded
NOT_COLLECTED = "not_collected"
TICKET_PREFIX = {"damaged": "KR", "lost": "KH"}
DESCRIPTION_MIN, DESCRIPTION_MAX = 3, 200
LOST_CAUSE = "lost"
FILE_TYPES = ("photo", "document")
# A document is taken when it is a PDF or a photo format a phone makes; an SVG (a script can
# ride in it) or any other image type is refused.
DOCUMENT_TYPES = frozenset(
    {"application/pdf", "image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}
)
# The states each staff step may start from.
MOVES: dict[str, tuple[str, ...]] = {
    "verified": ("reported",),
    "rejected": ("reported", "verified"),
    "printed": ("verified",),
    "ready": ("printed",),
    "handed_over": ("ready", NOT_COLLECTED),
}
_NUMBER_ATTEMPTS = 8


def next_state(state: str) -> str | None:
    """The state the staff's next step moves a ticket in `state` to (None once it is final)."""
    return next((to for to, starts in MOVES.items() if to != "rejected" and state in starts), None)


def can_reject(state: str) -> bool:
    """Whether staff may still reject a ticket in `state`."""
    return state in MOVES["rejected"]


@dataclass(frozen=True)
class Attachment:
    """A file the citizen sent: a Telegram photo or document."""

    file_id: str
    file_type: str  # photo / document
    mime_type: str | None
    size: int | None


class TicketError(DomainError):
    """A ticket rule said no; `kind` in the context picks the sentence the citizen reads."""

    template = "citizen/ticket_error.html"
    kind = "not_found"


class InvalidAttachment(TicketError):
    """Not an image or PDF (`kind` file_type) or over 10 MB (`kind` file_size); `max_mb`."""

    kind = "file_type"


class MissingPoliceReport(TicketError):
    """A lost-card report needs the police loss report (surat keterangan kehilangan)."""

    kind = "police_report"


class InvalidDescription(TicketError):
    """The description must be `min_len`-`max_len` characters (required for cause `other`)."""

    kind = "description"


class TicketAlreadyOpen(TicketError):
    """The person already has an open ticket; `number` if it is this chat's, else None."""

    kind = "already_open"


class TicketNotFound(TicketError):
    """No such ticket for this chat (another chat's ticket is never revealed)."""

    kind = "not_found"


class NoPrintingHere(TicketError):
    """Replacement cards are printed only at some points; `point_code` is not one of them."""

    kind = "no_printing"


class TicketNotChangeable(TicketError):
    """The ticket's `state` does not allow the step `to` (jump, backwards, second tap)."""

    template = "staff/ticket_error.html"
    kind = "state"


# --- citizen ---


def check_attachment(attachment: Attachment) -> None:
    """A photo, or a PDF or photo document, of at most 10 MB; else InvalidAttachment."""
    mime = (attachment.mime_type or "").lower()
    is_document = attachment.file_type == "document"
    if attachment.file_type not in FILE_TYPES or (is_document and mime not in DOCUMENT_TYPES):
        raise InvalidAttachment(kind="file_type", max_mb=MAX_FILE_MB)
    if attachment.size is not None and attachment.size > MAX_FILE_BYTES:
        raise InvalidAttachment(kind="file_size", max_mb=MAX_FILE_MB)


def check_description(text: str) -> str:
    """The trimmed description of an "other" damage, 3-200 characters; else InvalidDescription
    (asked at once, so a summary never shows more than a short text)."""
    trimmed = _description(text, required=True)
    assert trimmed is not None
    return trimmed


async def report(
    db: Connection,
    *,
    chat_id: int,
    nik: str,
    kind: str,
    cause: str | None,
    description: str | None,
    attachment: Attachment | None,
    point_code: str,
    now: datetime,
    rng: random.Random | None = None,
) -> Ticket:
    """Open a ticket for a damaged or lost card, to be replaced at a printing point."""
    cause, text = _checked_report(kind, cause, description, attachment)
    async with transaction(db):
        await _printing_point(db, point_code)
        ticket = await _insert(
            db,
            chat_id=chat_id,
            nik=nik,
            kind=kind,
            cause=cause,
            description=text,
            attachment=attachment,
            point_code=point_code,
            now=now,
            rng=rng,
        )
        await tickets.insert_event(
            db, ticket.id, state="reported", actor_id=None, note=None, now=now
        )
    return ticket


async def chat_tickets(db: Connection, chat_id: int) -> list[tuple[Ticket, list[TicketEvent]]]:
    """The chat's tickets, newest first, each with its history oldest first."""
    found = await tickets.list_chat_tickets(db, chat_id)
    return [(t, await tickets.list_events(db, t.id)) for t in found]


async def ticket_for_chat(
    db: Connection, number_text: str, chat_id: int
) -> tuple[Ticket, list[TicketEvent]]:
    """The chat's ticket with this number and its history; else TicketNotFound."""
    ticket = await tickets.get_ticket_by_number(db, normalize_number(number_text))
    if ticket is None or ticket.chat_id != chat_id:
        raise TicketNotFound()
    return ticket, await tickets.list_events(db, ticket.id)


def normalize_number(text: str) -> str:
    """` kr 7px2ma ` / `KR-7PX2MA` → `KR-7PX2MA`; anything else is returned stripped, upper."""
    compact = re.sub(r"[\s_-]", "", text.upper())
    prefix, code = compact[:2], compact[2:]
    if prefix in TICKET_PREFIX.values() and len(code) == CODE_LENGTH and _is_code(code):
        return f"{prefix}-{code}"
    return text.strip().upper()


def _is_code(text: str) -> bool:
    return set(text) <= set(CODE_ALPHABET)


# --- staff ---


async def staff_ticket(db: Connection, ticket_id: int, *, staff: RoleUser | None) -> Ticket:
    """The ticket, if `staff` works at its point (NotStaff / TicketNotFound / WrongServicePoint)."""
    return await _own_ticket(db, ticket_id, staff)


async def ticket_for_step(
    db: Connection, ticket_id: int, *, staff: RoleUser | None, action: str, now: datetime
) -> Ticket:
    """`staff_ticket` when a staff member opens the ticket's file (`action` "file", a view of
    the resident's card, audited) or starts a step that needs more input; refusals audited."""
    async with _action(db, staff, action, ticket_id, now=now):
        ticket = await _own_ticket(db, ticket_id, staff)
        if action == "file":
            await record_audit(db, staff, "tickets:file_viewed", _label(ticket), now=now)
        return ticket


async def verify(
    db: Connection, ticket_id: int, *, staff: RoleUser | None, now: datetime
) -> Ticket:
    """reported → verified."""
    return await _step(db, ticket_id, "verified", staff=staff, now=now)


async def reject(
    db: Connection,
    ticket_id: int,
    *,
    staff: RoleUser | None,
    reason: str,
    now: datetime,
) -> Ticket:
    """reported/verified → rejected with the reason (1-200 characters, else InvalidReason)."""
    async with _action(db, staff, "rejected", ticket_id, now=now):
        ticket = await _own_ticket(db, ticket_id, staff)
        text = clean_reason(reason)
        return await _move(db, ticket, "rejected", staff=staff, now=now, reason=text)


async def mark_printed(
    db: Connection, ticket_id: int, *, staff: RoleUser | None, now: datetime
) -> Ticket:
    """verified → printed."""
    return await _step(db, ticket_id, "printed", staff=staff, now=now)


async def mark_ready(
    db: Connection, ticket_id: int, *, staff: RoleUser | None, now: datetime
) -> Ticket:
    """printed → ready; to be picked up by `ready_until` (WIB today + PICK_UP_DAYS)."""
    return await _step(db, ticket_id, "ready", staff=staff, now=now)


async def hand_over(
    db: Connection, ticket_id: int, *, staff: RoleUser | None, now: datetime
) -> Ticket:
    """ready or not_collected → handed_over; a damaged card handed in now waits for destruction."""
    return await _step(db, ticket_id, "handed_over", staff=staff, now=now)


async def open_tickets_for_point(db: Connection, *, staff: RoleUser | None) -> list[Ticket]:
    """The staff's own point's tickets not yet handed over or rejected, oldest first."""
    point = require_role(staff, "staff").service_point or ""
    return await tickets.list_open_for_point(db, point)


# --- the pick-up deadline (the card-pickup job) ---


@dataclass(frozen=True)
class PickUpReminder:
    """A ready card reaching the reminder point `days_left` days before its deadline."""

    ticket: Ticket
    days_left: int


async def pick_up_reminders(db: Connection, *, since: date, day: date) -> list[PickUpReminder]:
    """Ready cards reaching a reminder point (7 or 1 days before the deadline) on a day from
    `since` to `day` whose deadline is still to come; a card with both points in that span is
    reminded of the nearer one only."""
    found: dict[int, PickUpReminder] = {}
    for days in sorted(PICK_UP_REMINDERS, reverse=True):  # the nearer point overwrites
        # after a missed run, never a reminder for a deadline that is today or already past
        first = max(since + timedelta(days=days), day + timedelta(days=1))
        last = day + timedelta(days=days)
        for ticket in await tickets.list_by_deadline(db, "ready", first, last):
            found[ticket.id] = PickUpReminder(ticket, days)
    return [found[ticket_id] for ticket_id in sorted(found)]


async def expire_pick_ups(db: Connection, *, since: date, day: date, now: datetime) -> list[Ticket]:
    """Ready cards whose deadline is before `day` become not_collected (a conditional update,
    an event and an audit record by the system each); return them with the cards that became
    not_collected since `since` (a run cut short before its notices went out is completed)."""
    moved: dict[int, Ticket] = {}
    yesterday = day - timedelta(days=1)
    for ticket in await tickets.list_by_deadline(db, "ready", date.min, yesterday):
        async with transaction(db):
            changed = await tickets.set_state_if(
                db, ticket.id, from_states=("ready",), to_state=NOT_COLLECTED, now=now
            )
            if not changed:
                continue
            await tickets.insert_event(
                db, ticket.id, state=NOT_COLLECTED, actor_id=None, note=None, now=now
            )
            detail = f"{_label(ticket)} ready->{NOT_COLLECTED} until={ticket.ready_until}"
            await record_audit(db, None, f"tickets:{NOT_COLLECTED}", detail, now=now)
        moved[ticket.id] = await tickets.get_ticket(db, ticket.id) or ticket
    first = since - timedelta(days=1)
    for ticket in await tickets.list_by_deadline(db, NOT_COLLECTED, first, yesterday):
        moved.setdefault(ticket.id, ticket)
    return [moved[ticket_id] for ticket_id in sorted(moved)]


# --- the rules ---


def _checked_report(
    kind: str, cause: str | None, description: str | None, attachment: Attachment | None
) -> tuple[str, str | None]:
    """The cause and trimmed description of a valid report; else the matching error."""
    if kind not in TICKET_KINDS:
        raise ValueError(f"unknown ticket kind {kind!r}")
    if kind == "lost":
        cause = LOST_CAUSE
    elif cause not in DAMAGE_CAUSES:
        raise ValueError(f"unknown damage cause {cause!r}")
    text = _description(description, required=cause == "other")
    if attachment is None and kind == "lost":
        raise MissingPoliceReport()
    if attachment is not None:
        check_attachment(attachment)
    return cause, text


def _description(text: str | None, *, required: bool) -> str | None:
    """The trimmed description, NIK-like numbers masked (None if blank and not required); else
    InvalidDescription."""
    trimmed = mask_numbers_in(" ".join((text or "").split()))
    if not trimmed and not required:
        return None
    if not DESCRIPTION_MIN <= len(trimmed) <= DESCRIPTION_MAX:
        raise InvalidDescription(min_len=DESCRIPTION_MIN, max_len=DESCRIPTION_MAX)
    return trimmed


async def _printing_point(db: Connection, point_code: str) -> None:
    point = await get_service_point(db, point_code)
    if point is None or not point.prints_cards:
        raise NoPrintingHere(point_code=point_code)


async def _insert(
    db: Connection,
    *,
    chat_id: int,
    nik: str,
    kind: str,
    cause: str,
    description: str | None,
    attachment: Attachment | None,
    point_code: str,
    now: datetime,
    rng: random.Random | None,
) -> Ticket:
    """Insert with a fresh number (retried on the rare collision); one open ticket per person."""
    for _ in range(_NUMBER_ATTEMPTS):
        try:
            return await tickets.insert_ticket(
                db,
                number=f"{TICKET_PREFIX[kind]}-{new_code(rng)}",
                chat_id=chat_id,
                nik=nik,
                kind=kind,
                cause=cause,
                description=description,
                file_id=attachment.file_id if attachment else None,
                file_type=attachment.file_type if attachment else None,
                service_point=point_code,
                now=now,
            )
        except IntegrityError as error:
            if _names(error, _OPEN_TWICE):
                raise await _already_open(db, nik, chat_id) from error
            if not _names(error, _NUMBER_TAKEN):
                raise
    raise RuntimeError("no unused ticket number found")


# What a refused INSERT names: SQLite's message the column, PostgreSQL's the constraint.
_OPEN_TWICE = ("tickets.nik_ref", "tickets_one_open_per_person")
_NUMBER_TAKEN = ("tickets.number", "tickets_number_key")


def _names(error: Exception, names: tuple[str, ...]) -> bool:
    return any(name in str(error) for name in names)


async def ensure_no_open_ticket(db: Connection, nik: str, *, chat_id: int) -> None:
    """Stop a report early when the person already has one in progress (TicketAlreadyOpen)."""
    if await tickets.get_open_ticket(db, nik) is not None:
        raise await _already_open(db, nik, chat_id)


async def _already_open(db: Connection, nik: str, chat_id: int) -> TicketAlreadyOpen:
    open_ticket = await tickets.get_open_ticket(db, nik)
    mine = open_ticket is not None and open_ticket.chat_id == chat_id
    return TicketAlreadyOpen(number=open_ticket.number if open_ticket and mine else None)


async def _own_ticket(db: Connection, ticket_id: int, staff: RoleUser | None) -> Ticket:
    """The ticket if `staff` works at its point (NotStaff / TicketNotFound / WrongServicePoint)."""
    point = require_role(staff, "staff").service_point
    ticket = await tickets.get_ticket(db, ticket_id)
    if ticket is None:
        raise TicketNotFound()
    if ticket.service_point != point:
        raise WrongServicePoint()
    return ticket


# --- the writes ---


async def _step(
    db: Connection, ticket_id: int, to: str, *, staff: RoleUser | None, now: datetime
) -> Ticket:
    """One staff step without extra input: check, move, record, audit."""
    async with _action(db, staff, to, ticket_id, now=now):
        ticket = await _own_ticket(db, ticket_id, staff)
        return await _move(db, ticket, to, staff=staff, now=now)


async def _move(
    db: Connection,
    ticket: Ticket,
    to: str,
    *,
    staff: RoleUser | None,
    now: datetime,
    reason: str | None = None,
) -> Ticket:
    """Conditionally move the ticket to `to`, append the event, audit; return it re-read."""
    until = wib_day(now) + timedelta(days=PICK_UP_DAYS) if to == "ready" else None
    moved = await tickets.set_state_if(
        db, ticket.id, from_states=MOVES[to], to_state=to, now=now, reason=reason, ready_until=until
    )
    if not moved:
        raise TicketNotChangeable(state=ticket.state, to=to)
    actor = staff.telegram_id if staff else None
    await tickets.insert_event(db, ticket.id, state=to, actor_id=actor, note=reason, now=now)
    if to == "handed_over" and ticket.kind == "damaged":
        await destruction.insert_received_card(db, ticket.id, ticket.nik, now=now)
    detail = f"{_label(ticket)} {ticket.state}->{to}" + (f" reason={reason}" if reason else "")
    await record_audit(db, staff, f"tickets:{to}", detail, now=now)
    return await tickets.get_ticket(db, ticket.id) or ticket


def _action(
    db: Connection, actor: RoleUser | None, action: str, ticket_id: int, *, now: datetime
) -> AbstractAsyncContextManager[None]:
    """`audit.audited` for a ticket: a refusal is recorded with the ticket's label if it exists."""
    return audited(db, actor, f"tickets:{action}", partial(_target, db, ticket_id), now=now)


async def _target(db: Connection, ticket_id: int) -> str:
    found = await tickets.get_ticket(db, ticket_id)
    return _label(found) if found else f"ticket={ticket_id}"


def _label(ticket: Ticket) -> str:
    return f"ticket={ticket.id} number={ticket.number} point={ticket.service_point}"
