"""What the page is told: chat messages as JSON events in one numbered log, replayable."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from babel.dates import format_date

from bot.config import TIMEZONE
from sandbox.clock import FIELD_FORMAT
from sandbox.tghtml import to_nodes

JSON = dict[str, Any]


class EventLog:
    """Every event since start, numbered from 1; readers wait for the ones after theirs."""

    def __init__(self) -> None:
        self.events: list[JSON] = []
        self.closed = False
        self._changed = asyncio.Event()

    def add(self, event: JSON) -> JSON:
        """Append `event` with the next sequence number and wake the readers."""
        event = {**event, "seq": len(self.events) + 1}
        self.events.append(event)
        self._wake()
        return event

    def after(self, seq: int) -> list[JSON]:
        """The events numbered above `seq`."""
        return self.events[max(seq, 0) :]

    async def wait(self, seq: int, timeout: float) -> None:  # noqa: ASYNC109
        """Return when there are events after `seq`, the log closes, or `timeout` passes."""
        event = self._changed
        if len(self.events) > seq or self.closed:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()

    def close(self) -> None:
        """No more events: readers stop waiting."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def moment(at: datetime) -> JSON:
    """A sandbox instant as the page shows it: ISO, WIB time and the Indonesian/English day."""
    local = at.astimezone(TIMEZONE)
    return {
        "at": at.isoformat(),
        "local": local.strftime("%Y-%m-%dT%H:%M"),
        "field": local.strftime(FIELD_FORMAT),  # as the jump field shows and takes it
        "time": local.strftime("%H.%M"),
        "day": {
            loc: format_date(local.date(), "EEEE, d MMMM y", locale=loc) for loc in ("id", "en")
        },
    }


def message_event(
    message: JSON,
    *,
    sender: str,
    source: str | None,
    parse_mode: str | None,
    markup: JSON | None,
    edited: bool,
    at: datetime,
) -> JSON:
    """A chat message (the bot's or the user's) as the page draws it."""
    event: JSON = {
        "type": "message",
        "chat_id": message["chat"]["id"],
        "message_id": message["message_id"],
        "from": sender,
        "edited": edited,
        "nodes": to_nodes(source, parse_mode),
        "media": media(message),
        "reply_to": _reply_to(message.get("reply_to_message")),
        **moment(at),
    }
    event.update(keyboards(markup))
    return event


def media(message: JSON) -> JSON | None:
    """The photo, document (with its name and size), place or contact of a message, with a
    link for files."""
    if photos := message.get("photo"):
        return {"kind": "photo", "url": file_url(photos[-1]["file_id"])}
    if doc := message.get("document"):
        name, mime, size = doc.get("file_name", "file"), doc.get("mime_type", ""), doc["file_size"]
        url = file_url(doc["file_id"])
        return {"kind": "document", "url": url, "name": name, "mime": mime, "size": size}
    if venue := message.get("venue"):
        place = venue["location"]
        return {"kind": "venue", "title": venue["title"], "address": venue["address"], **place}
    if place := message.get("location"):
        return {"kind": "location", "title": "", "address": "", **place}
    if sticker := message.get("sticker"):
        return {"kind": "sticker", "emoji": sticker.get("emoji", "")}
    if contact := message.get("contact"):
        return {"kind": "contact", "name": contact["first_name"], "phone": contact["phone_number"]}
    return None


def file_url(file_id: str) -> str:
    """Where the page downloads a stored file."""
    return f"/api/files/{file_id}"


def keyboards(markup: JSON | None) -> JSON:
    """Inline buttons, a reply keyboard, its removal, or a forced reply."""
    markup = markup or {}
    return {
        "inline": [[_inline_button(b) for b in row] for row in markup.get("inline_keyboard", [])],
        "keyboard": _reply_keyboard(markup) if "keyboard" in markup else None,
        "remove_keyboard": bool(markup.get("remove_keyboard")),
        "force_reply": (
            {"placeholder": markup.get("input_field_placeholder", "")}
            if markup.get("force_reply")
            else None
        ),
    }


def _inline_button(button: JSON) -> JSON:
    if "callback_data" in button:
        return {"text": button["text"], "data": button["callback_data"]}
    url = str(button.get("url", ""))
    if url.startswith(("http://", "https://", "tg://")):
        return {"text": button["text"], "url": url}
    return {"text": button["text"]}  # a kind of button the sandbox does not act on


def _reply_keyboard(markup: JSON) -> JSON:
    rows = [
        [
            {
                "text": b["text"] if isinstance(b, dict) else str(b),
                "contact": bool(isinstance(b, dict) and b.get("request_contact")),
                "location": bool(isinstance(b, dict) and b.get("request_location")),
            }
            for b in row
        ]
        for row in markup["keyboard"]
    ]
    return {"rows": rows, "one_time": bool(markup.get("one_time_keyboard"))}


def _reply_to(message: JSON | None) -> JSON | None:
    if not message:
        return None
    text = message.get("text") or message.get("caption") or ""
    return {"message_id": message["message_id"], "text": text[:80]}
