"""Every handler is counted and timed for /metrics once, under a code name (bot/ops.py)."""

from __future__ import annotations

import re

from bot.app import build_application
from bot.ops import _handlers


def test_every_handler_is_wrapped_once_under_a_code_name(settings):
    app = build_application(settings)
    handlers = [h for group in app.handlers.values() for h in _handlers(group)]
    assert len(handlers) > 50
    for handler in handlers:
        callback = handler.callback
        assert getattr(callback, "timed", False), handler
        # A handler shared by two conversations is wrapped once, so counted once per update.
        assert not getattr(callback.__wrapped__, "timed", False), handler
        assert re.fullmatch(r"[a-z_]+\.[A-Za-z_.<>]+", _name_of(callback)), callback


def _name_of(callback) -> str:
    inner = callback.__wrapped__
    return f"{inner.__module__.rsplit('.', 1)[-1]}.{inner.__qualname__}"
