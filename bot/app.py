"""The application factory: builds the bot, its database connection and its handlers."""

from __future__ import annotations

import logging

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot import db as dbmod
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.handlers import register
from bot.handlers.menus import publish_command_menus
from bot.jobs import schedule_jobs
from bot.rendering import Renderer
from bot.storage.areas import sync_areas
from bot.storage.service_points import seed_service_points

log = logging.getLogger(__name__)


def build_application(
    settings: Settings, *, request: BaseRequest | None = None, clock: Clock | None = None
) -> Application:
    """Build the bot with its settings; `request` replaces the HTTP layer in tests."""
    builder = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_api_file_url)
        # No default parse_mode: PTB would add it to methods that have no such parameter
        # (sendVenue), which the Bot API spec does not allow. Texts pass parse_mode=HTML.
        .defaults(Defaults(tzinfo=settings.tz))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app = builder.build()
    app.bot_data.update(settings=settings, clock=clock or SystemClock(), renderer=Renderer())
    register(app)
    return app


async def prepare_database(settings: Settings) -> dbmod.aiosqlite.Connection:
    """Open the database, apply migrations and load the reference data."""
    conn = await dbmod.connect(settings.database_path)
    await dbmod.migrate(conn)
    async with dbmod.transaction(conn):
        await sync_areas(conn)
        await seed_service_points(conn)
    return conn


async def _post_init(app: Application) -> None:
    app.bot_data["db"] = await prepare_database(app.bot_data["settings"])
    await publish_command_menus(app.bot, app.bot_data["db"], app.bot_data["renderer"])
    schedule_jobs(app)
    log.info("bot ready as @%s", app.bot.username)


async def _post_shutdown(app: Application) -> None:
    conn = app.bot_data.pop("db", None)
    if conn is not None:
        await conn.close()
