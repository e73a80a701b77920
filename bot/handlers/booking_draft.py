"""The booking being put together, shared by the booking flow (booking.py) and the waitlist
flow that continues it when the wanted days are full (waitlist.py): one conversation."""

from __future__ import annotations

from typing import Any

from bot.context import Context

CHOOSING = 0  # the conversation's state while a button is awaited


def draft(context: Context) -> dict[str, Any]:
    """The booking being put together (user_data["booking"]: on the server, never in buttons)."""
    assert context.user_data is not None
    return context.user_data.setdefault("booking", {})


def drafted(context: Context, *keys: str) -> bool:
    """The draft has got as far as `keys` (an old button of a later step has not)."""
    return set(keys) <= draft(context).keys()
