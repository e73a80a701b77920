"""The sandbox's web page and its small JSON API, with live updates as server-sent events."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from botapi.server import StoredFile
from sandbox.clock import ClockError, parse_moment
from sandbox.core import PHOTO_TYPES, UNKNOWN_TYPE, Sandbox, SandboxError, content_type

STATIC = Path(__file__).resolve().parent / "static"
SANDBOX = web.AppKey("sandbox", Sandbox)
KEEP_ALIVE = 15.0  # seconds between comments on an idle event stream
UPLOAD_LIMIT = 20 * 1024 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Browsers only send a custom header cross-site after a CORS preflight, which this server
# never grants: other web sites cannot act as the identities.
ACTION_HEADER = "X-Sandbox"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
HOST_NAMES = web.AppKey("host_names", frozenset[str])
# Plain text a browser only downloads (attachment, nosniff): the bot's CSV lists.
TEXT_TYPES = frozenset({"text/csv"})


def make_app(sandbox: Sandbox, host: str = "127.0.0.1") -> web.Application:
    """The aiohttp application serving the page for `sandbox` on `host` (its address)."""
    app = web.Application(client_max_size=UPLOAD_LIMIT, middlewares=[_guard])
    app[SANDBOX] = sandbox
    app[HOST_NAMES] = frozenset({*LOOPBACK_NAMES, f"[{host}]" if ":" in host else host})
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/api/events", _events)
    app.router.add_get("/api/files/{file_id}", _file)
    app.router.add_get("/api/chats/{user_id:\\d+}/commands", _commands)
    app.router.add_post("/api/chats/{user_id:\\d+}/messages", _send)
    app.router.add_post("/api/chats/{user_id:\\d+}/press", _press)
    app.router.add_post("/api/chats/{user_id:\\d+}/files", _upload)
    app.router.add_post("/api/chats/{user_id:\\d+}/share", _share)
    app.router.add_post("/api/clock", _jump)
    return app


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse other host names and cross-site actions; answer refusals as JSON."""
    if request.headers.get(hdrs.HOST) not in _own_hosts(request):
        return web.json_response({"error": "this server answers only as localhost"}, status=421)
    if request.method == "POST" and request.headers.get(ACTION_HEADER) != "1":
        return web.json_response({"error": f"missing {ACTION_HEADER} header"}, status=403)
    try:
        response: web.StreamResponse = await handler(request)
    except (SandboxError, ClockError) as error:
        return web.json_response({"error": str(error)}, status=400)
    return response


def _own_hosts(request: web.Request) -> set[str]:
    """The Host headers a browser sends for this server: its loopback names (and the address
    it was told to serve on) with its port.

    A web site that re-points its own name at 127.0.0.1 (DNS rebinding) reaches this port with
    its name in Host, so it is not answered."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return set()
    port, names = sockname[1], request.app[HOST_NAMES]  # browsers leave out port 80
    return {f"{name}:{port}" for name in names} | (set(names) if port == 80 else set())


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]


def _user_id(request: web.Request) -> int:
    user_id = int(request.match_info["user_id"])
    _sandbox(request).identity(user_id)
    return user_id


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise SandboxError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise SandboxError("the body must be a JSON object")
    return body


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def _state(request: web.Request) -> web.Response:
    return web.json_response(_sandbox(request).state())


async def _commands(request: web.Request) -> web.Response:
    return web.json_response(_sandbox(request).commands(_user_id(request)))


async def _send(request: web.Request) -> web.Response:
    body = await _body(request)
    text, reply_to = body.get("text"), body.get("reply_to")
    if not isinstance(text, str) or not (reply_to is None or isinstance(reply_to, int)):
        raise SandboxError("send {text, reply_to?}")
    event = _sandbox(request).send_text(_user_id(request), text, reply_to=reply_to)
    return web.json_response(event)


async def _press(request: web.Request) -> web.Response:
    body = await _body(request)
    message_id, data = body.get("message_id"), body.get("data")
    if not isinstance(message_id, int) or not isinstance(data, str):
        raise SandboxError("press {message_id, data}")
    _sandbox(request).press(_user_id(request), message_id, data)
    return web.json_response({"ok": True})


async def _share(request: web.Request) -> web.Response:
    body = await _body(request)
    event = _sandbox(request).share(_user_id(request), contact=bool(body.get("contact")))
    return web.json_response(event)


async def _upload(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    form = await request.post()
    upload, caption = form.get("file"), form.get("caption")
    if not isinstance(upload, web.FileField):
        raise SandboxError("choose a file to send")
    with upload.file:
        data = upload.file.read()
    if not data:
        raise SandboxError("the file is empty")
    event = _sandbox(request).upload(
        user_id,
        data,
        name=upload.filename or "file",
        caption=caption if isinstance(caption, str) and caption.strip() else None,
    )
    return web.json_response(event)


async def _file(request: web.Request) -> web.Response:
    """A stored file: a photo shown in the page; anything else downloaded under its name,
    never rendered by the browser (an uploaded page cannot run here)."""
    stored = _sandbox(request).file(request.match_info["file_id"])
    if stored is None:
        raise web.HTTPNotFound()
    kind = served_type(stored)
    response = web.Response(body=stored.data, content_type=kind)
    if kind not in PHOTO_TYPES:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", stored.file_name or stored.file_path.split("/")[-1])
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def served_type(stored: StoredFile) -> str:
    """The type a file is served as: by its first bytes (PNG, JPEG, PDF); a CSV the bot sent
    as text/csv; anything else application/octet-stream."""
    kind = content_type(stored.data)
    if kind == UNKNOWN_TYPE and stored.mime_type in TEXT_TYPES:
        return stored.mime_type
    return kind


async def _jump(request: web.Request) -> web.Response:
    body = await _body(request)
    sandbox = _sandbox(request)
    to = _target(body, sandbox.clock.now())
    runs = await sandbox.jump(to)
    return web.json_response(
        {"clock": sandbox.state()["clock"], "runs": [run.as_json() for run in runs]}
    )


def _target(body: dict[str, Any], now: datetime) -> datetime:
    """`{"days": n}`, `{"hours": n}` or `{"to": "1/5/2027 09.00"}` (WIB, see `parse_moment`)
    as a UTC instant."""
    if isinstance(body.get("to"), str):
        return parse_moment(body["to"], now=now).astimezone(UTC)
    days, hours = body.get("days", 0), body.get("hours", 0)
    if not isinstance(days, int) or not isinstance(hours, int) or days < 0 or hours < 0:
        raise ClockError("days and hours are whole numbers, 0 or more")
    return now + timedelta(days=days, hours=hours)


async def _events(request: web.Request) -> web.StreamResponse:
    """Every event after the client's last one (Last-Event-ID or ?after=N), then live."""
    log = _sandbox(request).events
    last = request.headers.get("Last-Event-ID") or request.query.get("after", "0")
    seq = int(last) if last.isdigit() else 0
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    try:
        while not log.closed:
            events = log.after(seq)
            for event in events:
                data = json.dumps(event, ensure_ascii=False)
                await response.write(f"id: {event['seq']}\ndata: {data}\n\n".encode())
            seq = events[-1]["seq"] if events else seq
            if not events:
                await response.write(b": keep-alive\n\n")
            await log.wait(seq, timeout=KEEP_ALIVE)
    except ConnectionResetError:
        pass  # the page was closed
    return response


@asynccontextmanager
async def serving(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Start `sandbox` and its page (port 0: any free port); yield the page's address."""
    await sandbox.start()
    runner = web.AppRunner(make_app(sandbox, host), access_log=None, shutdown_timeout=1.0)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://{host}:{bound}"
    finally:
        sandbox.events.close()  # open event streams end, so the runner stops at once
        await runner.cleanup()
        await sandbox.stop()
