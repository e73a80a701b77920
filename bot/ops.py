"""The operator's HTTP endpoints, served by `dukcapil-bot run` on OPS_LISTEN (aiohttp):

- `GET /healthz`: 200 while update handling and the outbox sender are alive (the event loop is,
  since it answers); else 503 with what stopped;
- `GET /readyz`: 200 when the database answers and the Bot API answered the last call, or
  answered one within OPS_TELEGRAM_GRACE_SECONDS; else 503 with a one-line reason;
- `GET /metrics`: Prometheus text (bot/metrics.py), the database's figures read at the scrape.

Also here: every handler's callback is timed and counted, and sets the update id and handler
name its log lines carry (bot/logs.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, BaseHandler, ConversationHandler

from bot.config import Settings
from bot.logs import HANDLER, UPDATE_ID
from bot.metrics import Metrics
from bot.services.health import database_answers, gather_figures

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 5.0  # seconds the database may take to answer /readyz
Callback = Callable[..., Coroutine[Any, Any, Any]]


def instrument_handlers(app: Application, metrics: Metrics) -> None:
    """Wrap every registered handler's callback (inside conversations too) to count and time it."""
    for group in app.handlers.values():
        for handler in _handlers(group):
            if not getattr(handler.callback, "timed", False):  # one handler in two flows
                handler.callback = _timed(handler.callback, _name(handler.callback), metrics)


def _handlers(handlers: list[Any]) -> Iterator[BaseHandler[Any, Any, Any]]:
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            yield from _handlers(handler.entry_points)
            for state in handler.states.values():
                yield from _handlers(state)
            yield from _handlers(handler.fallbacks)
        else:
            yield handler


def _name(callback: Callable[..., Any]) -> str:
    """`module.function`, e.g. `check.ask_kk`: code names, never a person's data."""
    module = getattr(callback, "__module__", "") or ""
    function = getattr(callback, "__qualname__", type(callback).__name__)
    return f"{module.rsplit('.', 1)[-1]}.{function}" if module else function


def _timed(callback: Callback, name: str, metrics: Metrics) -> Callback:
    @functools.wraps(callback)
    async def run(update: object, context: Any) -> Any:
        HANDLER.set(name)  # the update's own task: its later log lines carry both
        if isinstance(update, Update):
            UPDATE_ID.set(update.update_id)
        started, outcome = time.perf_counter(), "error"
        try:
            result = await callback(update, context)
        except ApplicationHandlerStop:
            outcome = "ok"
            raise
        else:
            outcome = "ok"
            return result
        finally:
            metrics.handled(name, outcome, time.perf_counter() - started)

    run.timed = True  # type: ignore[attr-defined]
    return run


def not_alive(app: Application, settings: Settings) -> str | None:
    """What stopped, or None while update handling and the sender run."""
    if not app.running:
        return "update handling is not running"
    polling = not settings.webhook_url
    if polling and (app.updater is None or not app.updater.running):
        return "polling for updates has stopped"
    sender = app.bot_data.get("sender")
    if sender is None or not sender.alive():
        return "the outbox sender has stopped"
    return None


async def not_ready(app: Application, settings: Settings) -> str | None:
    """Why the bot cannot serve now, or None."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            await database_answers(app.bot_data["db"])
    except Exception as error:  # any failure means not ready; the reason says which
        return f"the database does not answer ({type(error).__name__})"
    telegram = app.bot_data["metrics"].telegram
    down = telegram.unreachable_for()
    if down > settings.ops_telegram_grace.total_seconds():
        return f"Telegram has not answered for {down:.0f} s ({telegram.last_error})"
    return None


def ops_app(app: Application, settings: Settings) -> web.Application:
    """The aiohttp app of the three endpoints."""

    async def healthz(request: web.Request) -> web.Response:
        return _verdict(not_alive(app, settings), "alive")

    async def readyz(request: web.Request) -> web.Response:
        return _verdict(await not_ready(app, settings), "ready")

    async def metrics(request: web.Request) -> web.Response:
        d = app.bot_data
        figures = await gather_figures(d["db"], now=d["clock"].now(), quiet=settings.quiet_hours)
        body = d["metrics"].render(figures)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    return web_app


def _verdict(reason: str | None, good: str) -> web.Response:
    if reason is None:
        return web.Response(text=f"{good}\n")
    return web.Response(status=503, text=f"{reason}\n")


async def start_ops(app: Application, settings: Settings) -> web.AppRunner | None:
    """Serve the endpoints on OPS_LISTEN; a port that cannot be bound is logged, and the bot
    serves people all the same."""
    if settings.ops_listen is None:
        return None
    host, port = settings.ops_listen
    runner = web.AppRunner(ops_app(app, settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        log.error("ops endpoints not served: cannot listen on %s:%s (%s)", host, port, error)
        await runner.cleanup()
        return None
    log.info("ops endpoints on http://%s:%s (/healthz, /readyz, /metrics)", host, port)
    return runner
