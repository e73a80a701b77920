"""Views: what each message's buttons offer, built from the rules in the services."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.handlers.tickets_staff import STEPS
from bot.rendering import Renderer
from bot.services import tickets
from bot.views.tickets import staff_buttons
from tests.meta.test_templates import TICKET


def callbacks(markup) -> list[str]:
    if markup is None:
        return []
    return [button.callback_data for row in markup.inline_keyboard for button in row]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("reported", ["tks:v:{id}", "tks:x:{id}"]),
        ("verified", ["tks:p:{id}", "tks:x:{id}"]),
        ("printed", ["tks:r:{id}"]),
        ("ready", ["tks:h:{id}"]),
        ("handed_over", []),
        ("rejected", []),
    ],
)
def test_staff_see_a_tickets_next_step_and_reject_while_allowed(state, expected):
    ticket = replace(TICKET, state=state, file_id=None)
    markup = staff_buttons(Renderer(), "id", ticket)
    assert callbacks(markup) == [data.format(id=ticket.id) for data in expected]


@pytest.mark.parametrize("state", ["reported", "verified", "printed", "ready"])
def test_each_next_step_button_runs_the_step_to_the_next_state(state):
    """The button's code names the handler's step whose service moves to `next_state`."""
    ticket = replace(TICKET, state=state, file_id=None)
    code = callbacks(staff_buttons(Renderer(), "en", ticket))[0].split(":")[1]
    moves_to = {"v": "verified", "p": "printed", "r": "ready", "h": "handed_over"}
    assert STEPS[code].__name__ in {"verify", "mark_printed", "mark_ready", "hand_over"}
    assert moves_to[code] == tickets.next_state(state)


def test_the_attached_file_opens_on_demand():
    ticket = replace(TICKET, state="reported", file_id="AgAD")
    assert callbacks(staff_buttons(Renderer(), "id", ticket))[-1] == f"tks:f:{ticket.id}"
