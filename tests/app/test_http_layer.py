"""The bot's HTTP layers: sending and long polling both on aiohttp."""

from __future__ import annotations

import json

from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.app import build_application
from bot.http import AiohttpRequest


def test_sends_and_long_polls_on_aiohttp(settings):
    """httpx's per-request overhead made polling cost a third of the bot's CPU under 50 users
    checking at once (benchmarks/check_latency.py); the poll has one connection of its own."""
    app = build_application(settings)
    polling, sending = app.bot._request  # PTB keeps (getUpdates layer, every other call)
    assert isinstance(sending, AiohttpRequest)
    assert isinstance(polling, AiohttpRequest)
    assert polling is not sending


async def test_fields_go_as_one_json_object_and_files_as_multipart():
    """aiohttp's form encoding cost a tenth of each /cek's time in a burst: plain calls send
    one JSON object (each field as it would be in a form), uploads stay multipart."""
    seen: list[tuple[str, dict]] = []

    async def answer(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            seen.append((request.content_type, await request.json()))
        else:
            seen.append((request.content_type, dict(await request.post())))
        return web.json_response({"ok": True, "result": True})

    server = web.Application()
    server.router.add_post("/{method}", answer)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    request = AiohttpRequest()
    await request.initialize()
    try:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="y")]])
        plain = RequestData([RequestParameter.from_input("reply_markup", markup)])
        upload = RequestData([RequestParameter.from_input("document", InputFile(b"%PDF-"))])
        await request.post(f"http://127.0.0.1:{port}/sendMessage", plain)
        await request.post(f"http://127.0.0.1:{port}/sendDocument", upload)
    finally:
        await request.shutdown()
        await runner.cleanup()
    (json_type, fields), (upload_type, _) = seen
    assert json_type == "application/json"
    assert json.loads(fields["reply_markup"]) == markup.to_dict()
    assert upload_type == "multipart/form-data"
