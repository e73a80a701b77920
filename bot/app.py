"""The application factory: builds the bot, its database connection and its handlers."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from telegram.ext import Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.conversations import Keeper
from bot.handlers import register
from bot.handlers.menus import publish_command_menus
from bot.http import AiohttpRequest
from bot.jobs import schedule_jobs
from bot.jobs.sender import Sender
from bot.metrics import Metrics
from bot.ops import instrument_handlers, start_ops
from bot.ratelimit import PacedRateLimiter, Pacer
from bot.rendering import Renderer
from bot.startup import prepare_database
from bot.update_lines import ChatLines

log = logging.getLogger(__name__)


class DeskApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, whose stop (SIGTERM) stops the outbox sender at once, side by side
    with the updates in hand finishing: the sender takes no new batch while a handler waits
    for Telegram, and the two waits overlap instead of adding up."""

    __slots__ = ()

    async def stop(self) -> None:
        await asyncio.gather(super().stop(), stop_sender(self))


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    clock: Clock | None = None,
    watch: bool = False,
) -> Application:
    """Build the bot with its settings; `request` replaces the HTTP layer in tests.
    `watch`: serve /healthz, /readyz and /metrics on OPS_LISTEN and alert the admins of
    incidents (`run` does; tests and the sandbox run the alert job by hand, if at all)."""
    pacer = Pacer(settings.send_rate)
    clock = clock or SystemClock()
    metrics = Metrics(
        clock=lambda: clock.now().timestamp()
    )  # the alerts' clock too  # one sending budget for replies and the outbox sender
    builder = (
        ApplicationBuilder()
        .application_class(DeskApplication)
        .token(settings.bot_token)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_api_file_url)
        # No default parse_mode: PTB would add it to methods that have no such parameter
        # (sendVenue), which the Bot API spec does not allow. Texts pass parse_mode=HTML.
        .defaults(Defaults(tzinfo=settings.tz))
        .rate_limiter(PacedRateLimiter(pacer, max_retries=3))
        # Chats side by side, each in order: one chat's wait never holds another's answer.
        .concurrent_updates(ChatLines())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:  # aiohttp: fast under a broadcast; long polls too (on httpx, 50 users checking at
        # once spent a third of the bot's CPU polling)
        builder = builder.request(AiohttpRequest(observer=metrics.telegram_call))
        builder = builder.get_updates_request(
            AiohttpRequest(connections=1, observer=metrics.telegram_call)
        )
    app = builder.build()
    app.bot_data.update(
        settings=settings,
        clock=clock,
        renderer=Renderer(),
        pacer=pacer,
        metrics=metrics,
        watch=watch,
    )
    register(app)
    instrument_handlers(app, metrics)
    # Every conversation (and user_data) lives in the database between updates.
    assert isinstance(app.update_processor, ChatLines)
    app.bot_data["conversations"] = keeper = Keeper(app, app.update_processor)
    keeper.adopt()
    return app


async def _post_init(app: Application) -> None:
    settings: Settings = app.bot_data["settings"]
    db = app.bot_data["db"] = await prepare_database(settings)
    await publish_command_menus(app.bot, db, app.bot_data["renderer"])
    sender = Sender(
        app.bot,
        db,
        app.bot_data["clock"],
        pacer=app.bot_data["pacer"],
        quiet=settings.quiet_hours,
    )
    app.bot_data["sender"] = sender
    worker = app.bot_data.get("worker")  # several workers (bot/workers.py): one sends
    sender.start(settings.database_path, turn=worker.sender_turn if worker else None)
    schedule_jobs(app)
    if app.bot_data["watch"]:
        app.bot_data["ops"] = await start_ops(app, settings)
    # What start-up built (modules, templates, handlers: some 190,000 objects) lives as long as
    # the process: out of the collector's sight, a full collection walks only what came since.
    # Walking everything took 280 ms on a loaded machine, in the middle of a burst of /cek.
    gc.freeze()
    log.info("bot ready as @%s", app.bot.username)


async def stop_sender(app: Application) -> None:
    """Stop the sender while the bot's HTTP session is still open (shutdown closes it): at a
    stop, side by side with the updates in hand finishing (DeskApplication.stop; the workers'
    `serve`, bot/workers.py), so the sender takes no new batch while a handler waits."""
    sender = app.bot_data.pop("sender", None)
    if sender is not None:
        await sender.stop()


async def _post_shutdown(app: Application) -> None:
    gc.unfreeze()  # collectable again (tests build many applications in one process)
    await stop_sender(app)  # a start that failed half-way was never stopped
    ops = app.bot_data.pop("ops", None)
    if ops is not None:
        await ops.cleanup()
    conn = app.bot_data.pop("db", None)
    if conn is not None:
        await conn.close()
