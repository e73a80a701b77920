"""Serving until the service manager says stop: SIGINT or SIGTERM ends a `run` cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


def serve_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `serve(stop)` in a new event loop to its end; SIGINT or SIGTERM sets `stop` (the
    webhook, bot/webhook.py; one of several workers, bot/workers.py)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        await serve(stop)

    asyncio.run(main())
