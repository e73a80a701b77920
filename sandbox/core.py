"""The sandbox: the local Bot API server, the real bot polling it, the identities and the clock.

The bot is `bot.app.build_application`, unchanged, given the sandbox clock; it reaches the
simulated Telegram over HTTP like it reaches api.telegram.org. The page acts as the identities
(their messages, button presses and uploads go through the simulation) and sees what the bot
does through the observed simulation, as events in one log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.app import build_application
from bot.clock import Clock
from bot.config import TIMEZONE, Settings
from botapi import SEND_METHODS, SimUser
from botapi.server import StoredFile, command_entities
from sandbox.clock import ClockError, SandboxClock
from sandbox.events import JSON, EventLog, message_event, moment
from sandbox.history import phone_names
from sandbox.identities import Identity, identities
from sandbox.simulation import SandboxServer
from sandbox.timetravel import MAX_JUMP, SlotRun, run_slots
from sandbox.world import prepare_world

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
EDIT_METHODS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
# What a file is comes from its first bytes, never from the type the page's client declares.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
)
UNKNOWN_TYPE = "application/octet-stream"
TICK = 1.0  # seconds between looks at the clock, which the page sees move minute by minute


class SandboxError(ValueError):
    """Something the page asked that a Telegram app would not let a person do."""


class Sandbox:
    """One offline world: start() builds it and runs the bot, stop() ends both."""

    def __init__(
        self,
        data_dir: Path,
        *,
        count: int = 50_000,
        seed: int = 1,
        start: datetime | None = None,
        base_clock: Clock | None = None,
    ) -> None:
        self.data_dir, self.count, self.seed = data_dir, count, seed
        self.clock = SandboxClock(start, base=base_clock)
        self.people = identities(self.clock.now())
        self.by_id = {person.user_id: person for person in self.people}
        self.session = secrets.token_hex(8)  # a reloaded page notices a restarted sandbox
        self.events = EventLog()
        self.server = SandboxServer(self._observe)
        self.app: Application | None = None
        self._queries: dict[str, int] = {}  # callback query id -> chat that pressed
        self._jumping = asyncio.Lock()
        self._shown: JSON = moment(self.clock.now())  # the clock the page was last told
        self._ticker: asyncio.Task[None] | None = None

    # --- life cycle ---

    def settings(self) -> Settings:
        """The bot's settings: the local server, the sandbox's own database, no pacing."""
        return Settings.from_env(
            {
                "BOT_TOKEN": self.server.token,
                "BOT_API_URL": self.server.base_url,
                "DATABASE_PATH": str(self.data_dir / "sandbox.sqlite3"),
                "BACKUP_DIR": str(self.data_dir / "backups"),
                "SEND_RATE": "0",
            }
        )

    async def start(self) -> None:
        """Start the server, build a fresh world, run the bot and open every identity's chat."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self.server.start()
        settings = self.settings()
        await prepare_world(
            settings, self.people, count=self.count, seed=self.seed, now=self.clock.now()
        )
        self.app = app = build_application(settings, clock=self.clock)
        await app.initialize()
        assert app.post_init is not None and app.updater is not None
        await app.post_init(app)
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        for person in self.people:
            self.server.user(
                person.user_id, person.first_name, person.last_name, language_code="id"
            )
        for phone, name in phone_names(self.clock.now().astimezone(TIMEZONE).date()):
            self.server.user(phone, name, language_code="id")  # chats the page does not show
        for person in self.people:  # everyone has opened the bot once, as in real life
            self.send_text(person.user_id, "/start")
        self._ticker = asyncio.create_task(self._tick(), name="sandbox-clock")

    async def stop(self) -> None:
        """Stop the bot, then the server; readers of the event log are released."""
        self.events.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        app, self.app = self.app, None
        if app is not None:
            assert app.updater is not None and app.post_shutdown is not None
            await app.updater.stop()
            await app.stop()
            await app.post_shutdown(app)
            await app.shutdown()
        await self.server.stop()

    # --- what the page shows ---

    def state(self) -> JSON:
        """Identities, the clock and the bot's name, for a page that has just loaded."""
        return {
            "session": self.session,
            "seq": len(self.events.events),
            "identities": [person.card() for person in self.people],
            "clock": moment(self.clock.now()),
            "bot": self.server.sim.bot_user,
        }

    def commands(self, user_id: int) -> list[JSON]:
        """The command menu this chat sees: its own scope, else the default (Indonesian)."""
        self.identity(user_id)
        for scope in (("chat", user_id), ("default",)):
            if found := self.server.commands_for(scope, "") or self.server.commands_for(
                scope, "id"
            ):
                return found
        return []

    def file(self, file_id: str) -> StoredFile | None:
        """A file the bot or a person sent."""
        return self.server.sim.files.get(file_id)

    def identity(self, user_id: int) -> Identity:
        """The identity with this Telegram id; SandboxError for anyone else."""
        person = self.by_id.get(user_id)
        if person is None:
            raise SandboxError(f"no identity {user_id}")
        return person

    # --- what a person does ---

    def send_text(self, user_id: int, text: str, *, reply_to: int | None = None) -> JSON:
        """The identity writes `text` (optionally as a reply to a message of the chat)."""
        user = self._user(user_id)
        if not text.strip() or len(text) > TEXT_LIMIT:
            raise SandboxError("a message has 1-4096 characters")
        content: JSON = {"text": text}
        if entities := command_entities(text):
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = self._quoted(user, reply_to)
        return self._said(self.server.sim.user_message(user, user, content))

    def press(self, user_id: int, message_id: int, data: str) -> None:
        """The identity presses the inline button with `data` under one of the bot's messages."""
        user = self._user(user_id)
        target = {"message_id": message_id, "chat": {"id": user_id}}
        try:
            query_id = user.press(target, data)
        except AssertionError:
            raise SandboxError("that button is no longer there") from None
        self._queries[query_id] = user_id

    def upload(self, user_id: int, data: bytes, *, name: str, caption: str | None) -> JSON:
        """The identity sends a photo (JPEG/PNG bytes) or any other file as a document, typed
        by its content: a PDF as application/pdf, the rest as application/octet-stream. SVG
        (an image that can carry script) is refused."""
        user = self._user(user_id)
        kind = content_type(data)
        if kind in PHOTO_TYPES:
            return self._said(user.send_photo(caption, data=data))
        if kind == UNKNOWN_TYPE and is_svg(data):
            raise SandboxError("SVG images cannot be sent; send a JPEG or PNG photo or a PDF")
        return self._said(user.send_document(name, kind, data=data, caption=caption))

    def share(self, user_id: int, *, contact: bool) -> JSON:
        """A reply-keyboard button that shares the person's contact or location."""
        user = self._user(user_id)
        if contact:
            return self._said(user.send_contact())
        return self._said(user.send_location(-8.1333, 112.2167))  # Kanigoro, Kabupaten Blitar

    async def jump(self, to: datetime) -> list[SlotRun]:
        """Move the clock to `to`, run the job slots passed on the way, wake the sender."""
        async with self._jumping:
            if to - self.clock.now() > MAX_JUMP:
                raise ClockError(f"jump at most {MAX_JUMP.days} days at once")
            before = self.clock.jump_to(to)
            assert self.app is not None
            data = self.app.bot_data
            runs = await run_slots(
                before, to, db=data["db"], renderer=data["renderer"], settings=data["settings"]
            )
            if sender := data.get("sender"):
                sender.wake()
            self._shown = moment(to)
            self.events.add(
                {"type": "clock", "clock": self._shown, "runs": [r.as_json() for r in runs]}
            )
            return runs

    async def _tick(self) -> None:
        """Tell the page each new minute of the clock, which runs on between jumps."""
        while True:
            await asyncio.sleep(TICK)
            now = moment(self.clock.now())
            if now["local"] != self._shown["local"]:
                self._shown = now
                self.events.add({"type": "tick", "clock": now})

    # --- the simulation's side ---

    def _user(self, user_id: int) -> SimUser:
        person = self.identity(user_id)
        return self.server.user(person.user_id)

    def _quoted(self, user: SimUser, message_id: int) -> JSON:
        stored = self.server.sim.messages.get((user.id, message_id))
        if stored is None or stored.deleted:
            raise SandboxError("the message to reply to is gone")
        quoted = dict(stored.message)
        quoted.pop("reply_to_message", None)
        return quoted

    def _said(self, message: JSON) -> JSON:
        """Log a message the person sent and return its event."""
        source = message.get("text") or message.get("caption")
        event = message_event(
            message,
            sender="user",
            source=source,
            parse_mode=None,
            markup=None,
            edited=False,
            at=self.clock.now(),
        )
        return self.events.add(event)

    def _observe(self, method: str, params: JSON, result: Any) -> None:
        """What the bot just did in the simulated Telegram, as events for the page."""
        if method in SEND_METHODS or method in EDIT_METHODS:
            key = (result["chat"]["id"], result["message_id"])
            if key[0] in self.by_id:
                stored = self.server.sim.messages[key]
                self.events.add(
                    message_event(
                        stored.message,
                        sender="bot",
                        source=stored.source,
                        parse_mode=stored.parse_mode,
                        markup=stored.markup,
                        edited=method in EDIT_METHODS,
                        at=self.clock.now(),
                    )
                )
        elif method == "deleteMessage":
            chat = self.server.sim.find_chat(params["chat_id"])
            if chat is not None and chat.id in self.by_id:
                self.events.add(
                    {"type": "delete", "chat_id": chat.id, "message_id": params["message_id"]}
                )
        elif method == "answerCallbackQuery":
            chat_id = self._queries.pop(params["callback_query_id"], None)
            if chat_id is not None and params.get("text"):
                alert = bool(params.get("show_alert"))
                self.events.add(
                    {"type": "answer", "chat_id": chat_id, "text": params["text"], "alert": alert}
                )
        elif method == "setMyCommands":
            scope = params.get("scope") or {}
            self.events.add({"type": "commands", "chat_id": scope.get("chat_id")})


def content_type(data: bytes) -> str:
    """The MIME type of `data` by its signature: PNG, JPEG or PDF, else application/octet-stream."""
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), UNKNOWN_TYPE)


def is_svg(data: bytes) -> bool:
    """Whether `data` looks like an SVG document (plain or behind an XML prolog)."""
    return b"<svg" in data[:4096].lower()
