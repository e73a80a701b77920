"""Messages about damaged and lost card tickets: the new ticket for staff with its next step, and
each change of state for the citizen."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.domain import Resident, ServicePoint, Ticket
from bot.rendering import Renderer
from bot.services.tickets import can_reject, next_state
from bot.views import Message, Row, keyboard

# The callback code of the step that moves a ticket to each state (`tks:<code>:<id>`); the
# button's label is `ticket_<code>` in labels.j2.
STEP_CODES = {"verified": "v", "printed": "p", "ready": "r", "handed_over": "h"}


def staff_buttons(renderer: Renderer, locale: str, ticket: Ticket) -> InlineKeyboardMarkup | None:
    """The staff's next step for a ticket (Reject while allowed, and the attached file)."""
    state = next_state(ticket.state)
    if state is None:
        return None
    code = STEP_CODES[state]
    row: Row = [(f"ticket_{code}", f"tks:{code}:{ticket.id}")]
    if can_reject(ticket.state):
        row.append(("staff_reject", f"tks:x:{ticket.id}"))
    rows = [row]
    if ticket.file_id:  # opened on demand, in the presser's private chat, after the role check
        rows.append([("ticket_file", f"tks:f:{ticket.id}")])
    return keyboard(renderer, locale, rows)


def staff_new(
    renderer: Renderer, locale: str, ticket: Ticket, resident: Resident | None
) -> Message:
    """A new ticket for the point's staff; its photo or police report opens on demand."""
    text = renderer.render(locale, "staff/ticket_new.html", t=ticket, resident=resident)
    return Message(text, staff_buttons(renderer, locale, ticket))


def citizen_state(
    renderer: Renderer, locale: str, ticket: Ticket, point: ServicePoint | None
) -> Message:
    """The ticket changed state: what it means for the citizen."""
    return Message(renderer.render(locale, "citizen/ticket_state.html", t=ticket, point=point))


def staff_card(renderer: Renderer, locale: str, ticket: Ticket, *, done: bool = False) -> Message:
    """A ticket shown to staff (in /tiket, or after a step), with its next step."""
    text = renderer.render(locale, "staff/ticket.html", t=ticket, done=done)
    return Message(text, staff_buttons(renderer, locale, ticket))


def pick_up_reminder(
    renderer: Renderer, locale: str, ticket: Ticket, point: ServicePoint | None, days_left: int
) -> str:
    """The card waits at the office: `days_left` days left to pick it up."""
    return renderer.render(
        locale, "citizen/ticket_pickup_reminder.html", t=ticket, point=point, days_left=days_left
    )
