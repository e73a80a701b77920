"""Webhook mode: Telegram POSTs each update to our HTTP server (`run` with WEBHOOK_URL set).

Served with aiohttp in front of the Application's update queue (PTB's custom-webhook pattern)
rather than by PTB's own tornado handler, which compares the secret token with `!=` (its time
tells how much of a guess is right) and reads a body of up to 100 MB before looking at it. Here
the secret is compared in constant time and a body over 1 MB is refused before it is read.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.signals import serve_until_signalled

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # an update is at most a few kB; Telegram says the length up front
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_app(
    application: Application,
    secret: str,
    *,
    deliver: Callable[[list[Update]], Awaitable[None]] | None = None,
) -> web.Application:
    """The HTTP app: a POST to any path with the secret token and a JSON update of at most
    MAX_BODY bytes goes into the Application's update queue, or to `deliver` (several workers:
    the database's inbox, bot/workers.py), answered only once it is there."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        token = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(token, expected):
            return web.Response(status=403)
        if request.content_length is None:  # chunked: its size is known only once read
            return web.Response(status=411)
        if request.content_length > MAX_BODY:
            return web.Response(status=413)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            return web.Response(status=400)
        if deliver is not None:
            await deliver([update])
        else:
            await application.update_queue.put(update)
        return web.Response()

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/{path:.*}", receive)
    return app


async def serve_webhook(application: Application, settings: Settings, stop: asyncio.Event) -> None:
    """Run the bot on a webhook until `stop` is set, with the lifecycle `run_polling` has:
    initialize, post_init, start, ..., stop, post_stop, shutdown, post_shutdown."""
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        runner = web.AppRunner(webhook_app(application, settings.webhook_secret))
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.webhook_listen, settings.webhook_port).start()
            await application.bot.set_webhook(
                settings.webhook_url, secret_token=settings.webhook_secret
            )
            await application.start()
            log.info("webhook served on %s:%s", settings.webhook_listen, settings.webhook_port)
            await stop.wait()
        finally:
            await runner.cleanup()  # no new update comes in while the last ones are handled
        await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


def run_webhook(application: Application, settings: Settings) -> None:
    """Serve the webhook until SIGINT or SIGTERM."""
    serve_until_signalled(lambda stop: serve_webhook(application, settings, stop))
