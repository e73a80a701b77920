"""The project's local Bot API server, observed: every accepted call is reported to the sandbox.

The server is the one the tests use (botapi); the sandbox only swaps in a Simulation that
tells an observer what the bot did after each successful call, so the page updates live.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botapi import BotApiServer, Simulation
from botapi.spec import ApiSpec

log = logging.getLogger(__name__)

Observer = Callable[[str, dict[str, Any], Any], None]


class ObservedSimulation(Simulation):
    """A Simulation that calls `observer(method, params, result)` after each accepted call."""

    def __init__(self, spec: ApiSpec, token: str, observer: Observer) -> None:
        super().__init__(spec, token)
        self.observer = observer

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Execute the call like Telegram, then report it (a failing observer is only logged)."""
        result = await super().call(method, params)
        try:
            self.observer(method, params, result)
        except Exception:
            log.exception("sandbox observer failed on %s", method)
        return result


class SandboxServer(BotApiServer):
    """BotApiServer whose simulation reports to `observer`."""

    def __init__(self, observer: Observer, **options: Any) -> None:
        super().__init__(**options)
        self.sim = ObservedSimulation(self.spec, self.token, observer)
