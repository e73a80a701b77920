"""The bot's HTTP layer to the Bot API, on aiohttp's client.

PTB's default layer (httpx) tops out at a few hundred requests a second when many are in flight,
because of its connection pool's bookkeeping; a broadcast at Telegram's paid-broadcast ceiling
(1,000 messages a second) needs more. aiohttp's pooled connector keeps up. Requests are sent as
a JSON object (each field as PTB's own layer would put it in a form), multipart when files are
uploaded; timeouts become `TimedOut` and connection failures `NetworkError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0
JSON = {"Content-Type": "application/json"}
# Told of every call's end: the URL, the HTTP status (None: no answer) and the failure's class.
Observer = Callable[[str, int | None, str | None], None]


class AiohttpRequest(BaseRequest):
    """A PTB request layer on one aiohttp ClientSession with up to `connections` connections."""

    def __init__(
        self,
        *,
        connections: int = 256,
        read_timeout: float = READ_TIMEOUT,
        observer: Observer | None = None,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._observer = observer
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = bool(request_data and request_data.contains_files)
        timeout = aiohttp.ClientTimeout(
            sock_connect=_seconds(connect_timeout, CONNECT_TIMEOUT),
            sock_read=_seconds(read_timeout, self._read_timeout),
            total=None,
        )
        # A write timeout has no aiohttp equivalent per socket: bound the whole request instead.
        writing = _seconds(write_timeout, MEDIA_WRITE_TIMEOUT if uploads else WRITE_TIMEOUT)
        reading = _seconds(read_timeout, self._read_timeout)
        budget = None if reading is None or writing is None else reading + writing
        try:
            async with asyncio.timeout(budget):
                async with self._session.request(
                    method, url, timeout=timeout, **_body(request_data)
                ) as response:
                    answer = response.status, await response.read()
        except TimeoutError as error:
            self._observe(url, None, "TimedOut")
            raise TimedOut from error
        except aiohttp.ClientError as error:
            self._observe(url, None, type(error).__name__)
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        self._observe(url, answer[0], None)
        return answer

    def _observe(self, url: str, status: int | None, error: str | None) -> None:
        if self._observer is not None:
            self._observer(url, status, error)


def _body(request_data: RequestData | None) -> dict[str, Any]:
    """The request's body: its fields as one JSON object (the Bot API reads JSON bodies as it
    reads forms; aiohttp's form encoding cost a tenth of a /cek's time), or multipart with the
    files when something is uploaded."""
    if request_data is None:
        return {}
    if not request_data.contains_files:
        return {"data": request_data.json_payload, "headers": JSON}
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return {"data": form}


def _seconds(value: ODVInput[float], default: float | None) -> float | None:
    """A PTB timeout argument: DEFAULT_NONE means our default; None means no limit."""
    if isinstance(value, DefaultValue):
        return default
    return value
