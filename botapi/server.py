"""Local Bot API server: a pytest-free `Simulation` core served over aiohttp by `BotApiServer`."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, ClassVar, Self

from aiohttp import web

from botapi.faults import GATEWAY_PAGE, Drop, Faults, Flood, ServerError, flood_body
from botapi.html_check import HtmlError, html_to_text
from botapi.spec import ApiSpec, SpecError, UploadedFile, default_spec

JSON = dict[str, Any]
ScopeKey = tuple[Any, ...]

DEFAULT_TOKEN = "123456:TEST-TOKEN"
BOT_FIRST_NAME = "Dukcapil Test Bot"
BOT_USERNAME = "dukcapil_test_bot"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
ANSWER_TEXT_LIMIT = 200
UPLOAD_LIMIT = 50 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
NOT_SUPPORTED = "method not supported by the local test server"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
BUTTON_NON_ACTIONS = frozenset({"text", "icon_custom_emoji_id", "style"})
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
_BOT_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


NOT_A_MEMBER = "Forbidden: bot is not a member of the group chat"


class ApiFailure(Exception):
    """A Bot API call that Telegram would answer with ok=false."""

    def __init__(self, error_code: int, description: str) -> None:
        """Keep the HTTP status and the description Telegram would send."""
        super().__init__(description)
        self.error_code = error_code
        self.description = description


def bad_request(message: str) -> ApiFailure:
    """A 400 answer."""
    return ApiFailure(400, f"Bad Request: {message}")


@dataclass(frozen=True)
class ApiError:
    """A request the server refused."""

    method: str
    params: dict[str, Any]
    description: str


@dataclass
class BotMessage:
    """Something the bot sent or edited in a chat, as a test sees it."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    html: str | None
    reply_markup: dict[str, Any] | None
    buttons: list[tuple[str, str | None]]
    raw: dict[str, Any]
    message: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoredFile:
    """A file known to the simulated Telegram."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str | None = None
    file_name: str | None = None

    def as_file(self) -> JSON:
        """The File object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class StoredMessage:
    """The current state of a message plus what the bot sent to produce it."""

    message: JSON
    source: str | None = None
    parse_mode: str | None = None
    markup: JSON | None = None
    from_bot: bool = False
    deleted: bool = False


@dataclass
class _CallbackQuery:
    """A callback query waiting for answerCallbackQuery."""

    user: SimUser
    answered: bool = False


def now() -> int:
    """Unix time as Telegram reports it."""
    return int(time.time())


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """bot_command entities for every /command in a user's text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group(0)),
        }
        for match in _BOT_COMMAND.finditer(text)
    ]


def visible_text(source: str, parse_mode: str | None) -> str:
    """The text a user sees for `source` in `parse_mode` (Markdown is not parsed)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            return html_to_text(source)
        except HtmlError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    if mode in ("", "markdown", "markdownv2"):
        return source
    raise bad_request("unsupported parse_mode")


def message_text(source: str, parse_mode: str | None) -> str:
    """Visible text of a message, within Telegram's 1-4096 characters."""
    text = visible_text(source, parse_mode)
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return text


def caption_content(params: Mapping[str, Any]) -> JSON:
    """The caption part of a media message, within 1024 characters."""
    source = params.get("caption")
    if not source:
        return {}
    caption = visible_text(source, params.get("parse_mode"))
    if len(caption) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    return {"caption": caption} if caption.strip() else {}


def check_reply_markup(markup: JSON | None) -> None:
    """Telegram's checks on inline keyboards beyond the types."""
    if not markup or "inline_keyboard" not in markup:
        return
    for row in markup["inline_keyboard"]:
        for button in row:
            check_inline_button(button)


def check_inline_button(button: JSON) -> None:
    """callback_data is 1-64 bytes and a button does exactly one thing."""
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
        raise bad_request("BUTTON_DATA_INVALID")
    actions = [key for key in button if key not in BUTTON_NON_ACTIONS]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(f"can't parse inline keyboard button: more than one of {actions}")


def check_command(command: JSON) -> None:
    """A BotCommand: name 1-32 of [a-z0-9_], description 1-256 characters."""
    if not _COMMAND_NAME.fullmatch(command["command"]):
        raise bad_request("BOT_COMMAND_INVALID")
    if not 1 <= len(command["description"].strip()) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def flatten_buttons(markup: JSON | None) -> list[tuple[str, str | None]]:
    """(text, callback_data or url) of every button of a keyboard, row by row."""
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [
        (button["text"], button.get("callback_data") or button.get("url"))
        for row in rows
        for button in row
    ]


def inline_callback_data(message: JSON) -> list[str]:
    """callback_data of the inline buttons attached to a message."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


def update_kind(update: JSON) -> str:
    """The optional field that makes an Update what it is (message, callback_query...)."""
    return next(key for key in update if key != "update_id")


def message_key(message: BotMessage | JSON) -> tuple[int, int]:
    """(chat_id, message_id) of a BotMessage or a Message object."""
    if isinstance(message, BotMessage):
        return message.chat_id, message.message_id
    return int(message["chat"]["id"]), int(message["message_id"])


def chat_instance(chat_id: int) -> str:
    """A stable chat_instance for callback queries from a chat."""
    return str(abs(chat_id) * 7919 + 104729)


class SimChat:
    """A chat of the simulated Telegram; collects what the bot sends there."""

    def __init__(self, sim: Simulation, chat: JSON) -> None:
        """Attach a Chat object to the simulation."""
        self.sim = sim
        self.chat = chat
        self.inbox: list[BotMessage] = []
        self._read = 0
        self._arrived = asyncio.Event()

    def __repr__(self) -> str:
        """Type and id, for assertion messages."""
        return f"<{type(self).__name__} {self.id}>"

    @property
    def id(self) -> int:
        """The chat id."""
        return int(self.chat["id"])

    def deliver(self, message: BotMessage) -> None:
        """Record something the bot sent or edited here."""
        self.inbox.append(message)
        self._arrived.set()

    async def next_message(self, timeout: float = 5.0) -> BotMessage:  # noqa: ASYNC109
        """The next unread BotMessage; AssertionError if none arrives within `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while self._read >= len(self.inbox):
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(self._silence_report(timeout)) from None
        self._read += 1
        return self.inbox[self._read - 1]

    async def no_message(self, within: float = 0.5) -> None:
        """Assert the bot sends nothing here for `within` seconds."""
        try:
            await self.next_message(timeout=within)
        except AssertionError:
            return
        unexpected = self.inbox[self._read - 1]
        raise AssertionError(f"expected silence in chat {self.id}, got {unexpected}")

    def _silence_report(self, timeout: float) -> str:
        """Why next_message gave up, with the rejected calls that may explain it."""
        report = f"the bot sent nothing to chat {self.id} within {timeout}s"
        if self.sim.errors:
            report += f"; rejected calls: {self.sim.errors}"
        return report


class SimGroup(SimChat):
    """A group chat the bot is a member of (until it leaves: leaveChat)."""

    def __init__(self, sim: Simulation, chat: JSON) -> None:
        """The group, with the bot in it."""
        super().__init__(sim, chat)
        self.member = True


class SimUser(SimChat):
    """A Telegram user and their private chat with the bot."""

    def __init__(self, sim: Simulation, user: JSON) -> None:
        """Create the user and the private chat whose id is the user id."""
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        chat.update({key: user[key] for key in ("last_name", "username") if key in user})
        super().__init__(sim, chat)
        self.user = user
        self.blocked = False
        self.callback_answers: list[JSON] = []

    def block(self) -> None:
        """The user blocks the bot: sending to them fails with 403."""
        self.blocked = True

    def unblock(self) -> None:
        """The user unblocks the bot."""
        self.blocked = False

    def send_text(self, text: str, *, chat: SimChat | None = None) -> JSON:
        """Write a text message (with bot_command entities like Telegram adds)."""
        content: JSON = {"text": text}
        if entities := command_entities(text):
            content["entities"] = entities
        return self.sim.user_message(self, chat or self, content)

    def send_photo(
        self, caption: str | None = None, *, data: bytes = FAKE_JPEG, chat: SimChat | None = None
    ) -> JSON:
        """Send a photo."""
        stored = self.sim.register_file(data, "photos", ".jpg", "image/jpeg")
        content: JSON = {"photo": [photo_size(stored)]}
        if caption:
            content["caption"] = caption
        return self.sim.user_message(self, chat or self, content)

    def send_document(
        self,
        file_name: str = "dokumen.pdf",
        mime_type: str = "application/pdf",
        size: int = 1234,
        *,
        data: bytes | None = None,
        caption: str | None = None,
        chat: SimChat | None = None,
    ) -> JSON:
        """Send a document; its content is `data` or `size` filler bytes."""
        content_bytes = data if data is not None else b"\0" * size
        suffix = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self.sim.register_file(content_bytes, "documents", suffix, mime_type, file_name)
        content: JSON = {"document": document(stored)}
        if caption:
            content["caption"] = caption
        return self.sim.user_message(self, chat or self, content)

    def send_sticker(self, emoji: str = "👍", *, chat: SimChat | None = None) -> JSON:
        """Send a sticker."""
        stored = self.sim.register_file(FAKE_JPEG, "stickers", ".webp", "image/webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.data),
        }
        return self.sim.user_message(self, chat or self, {"sticker": sticker})

    def send_location(
        self, latitude: float, longitude: float, *, chat: SimChat | None = None
    ) -> JSON:
        """Share a location."""
        location = {"latitude": float(latitude), "longitude": float(longitude)}
        return self.sim.user_message(self, chat or self, {"location": location})

    def send_contact(
        self,
        phone_number: str = "+6281234567890",
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        user_id: int | None = None,
        chat: SimChat | None = None,
    ) -> JSON:
        """Share a contact; without `first_name` it is the user's own contact."""
        contact: JSON = {"phone_number": phone_number}
        if first_name is None:
            contact["first_name"] = self.user["first_name"]
            if "last_name" in self.user:
                contact["last_name"] = self.user["last_name"]
            contact["user_id"] = self.id
        else:
            contact["first_name"] = first_name
            if last_name:
                contact["last_name"] = last_name
            if user_id is not None:
                contact["user_id"] = user_id
        return self.sim.user_message(self, chat or self, {"contact": contact})

    def edit_text(self, message: JSON, text: str) -> JSON:
        """Edit one of this user's text messages (an edited_message update)."""
        stored = self.sim.messages.get(message_key(message))
        if stored is None or stored.message.get("from", {}).get("id") != self.id:
            raise AssertionError(f"{message.get('message_id')} is not a message of user {self.id}")
        if "text" not in stored.message:
            raise AssertionError(f"message {message['message_id']} has no text to edit")
        content: JSON = {"text": text, "edit_date": now()}
        stored.message.pop("entities", None)
        if entities := command_entities(text):
            content["entities"] = entities
        stored.message.update(content)
        self.sim.push_update("edited_message", stored.message)
        return copy.deepcopy(stored.message)

    def press(self, message: BotMessage | JSON, data: str, *, raw: bool = False) -> str:
        """Press an inline button of a bot message; returns the callback query id."""
        stored = self.sim.messages.get(message_key(message))
        if stored is None or stored.deleted or not stored.from_bot:
            raise AssertionError(f"{message_key(message)} is not a live message of the bot")
        chat_id = stored.message["chat"]["id"]
        if chat_id != self.id and stored.message["chat"]["type"] == "private":
            raise AssertionError(f"user {self.id} can't see message in private chat {chat_id}")
        available = inline_callback_data(stored.message)
        if not raw and data not in available:
            raise AssertionError(
                f"message {stored.message['message_id']} in chat {chat_id} has no inline button "
                f"with callback_data {data!r}; it has {available}"
            )
        return self.sim.callback_query(self, stored, data)


def photo_size(stored: StoredFile) -> JSON:
    """A PhotoSize for a stored image."""
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": 1280,
        "height": 960,
        "file_size": len(stored.data),
    }


def document(stored: StoredFile) -> JSON:
    """A Document for a stored file."""
    result = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    if stored.file_name:
        result["file_name"] = stored.file_name
    if stored.mime_type:
        result["mime_type"] = stored.mime_type
    return result


class Simulation:
    """The simulated Telegram: chats, messages, files, pending updates and Bot API methods."""

    # Every simulation's traffic, for a watcher of all of it (tests/privacy_scan.py looks for
    # NIK and KK numbers in what the bot sent): ("request", method, params) for each call the
    # bot makes, valid or not, and ("update", kind, update) for each update queued for it.
    watchers: ClassVar[list[Callable[[str, str, JSON], None]]] = []

    def __init__(self, spec: ApiSpec, token: str) -> None:
        """An empty world for the bot with this token."""
        self.spec = spec
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.chats: dict[int, SimChat] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[ScopeKey, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.webhook: JSON | None = None
        self.allowed_updates: list[str] = []
        self.errors: list[ApiError] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.closed = False
        self._updates: list[JSON] = []
        self._queries: dict[str, _CallbackQuery] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(100_000_001)
        self.last_update_id = 0  # of the update queued last (a test waits until it is handled)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(4_242_000_001)
        self._wakeup = asyncio.Event()
        self._poll_generation = 0
        self._handlers: dict[str, Callable[[JSON], Any]] = {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.log_out,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendLocation": self.send_location,
            "sendVenue": self.send_venue,
            "sendChatAction": self.send_chat_action,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "setMyCommands": self.set_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getMyCommands": self.get_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getFile": self.get_file,
            "getChat": self.get_chat,
            "leaveChat": self.leave_chat,
        }

    # ----- the world, as tests (or a sandbox) shape it -----

    @property
    def bot_user(self) -> JSON:
        """The bot as it appears in the `from` of its messages."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }

    def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> SimUser:
        """The user with this id, created on first use."""
        existing = self.chats.get(user_id)
        if isinstance(existing, SimUser):
            return existing
        if existing is not None:
            raise ValueError(f"chat {user_id} already exists and is not a user")
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user.update({key: value for key, value in optional.items() if value is not None})
        created = SimUser(self, user)
        self.chats[user_id] = created
        return created

    def add_group(self, chat_id: int, title: str = "Test Group") -> SimGroup:
        """The group with this id, created on first use."""
        existing = self.chats.get(chat_id)
        if isinstance(existing, SimGroup):
            return existing
        if existing is not None:
            raise ValueError(f"chat {chat_id} already exists and is not a group")
        created = SimGroup(self, {"id": chat_id, "type": "group", "title": title})
        self.chats[chat_id] = created
        return created

    def commands_for(self, scope_key: ScopeKey, language_code: str = "") -> list[JSON]:
        """The last command list set for a scope key such as ("default",) or ("chat", 42)."""
        return copy.deepcopy(self.commands.get((tuple(scope_key), language_code), []))

    def register_file(
        self,
        data: bytes,
        folder: str,
        suffix: str,
        mime_type: str | None = None,
        file_name: str | None = None,
    ) -> StoredFile:
        """Store file content under a fresh file_id and file_path."""
        number = next(self._file_ids)
        stored = StoredFile(
            file_id=f"BQACAgUAAxkBAAI{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{folder}/file_{number}{suffix}",
            data=data,
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, file_path: str) -> StoredFile | None:
        """The file downloadable at /file/bot<token>/<file_path>."""
        return next((f for f in self.files.values() if f.file_path == file_path), None)

    def user_message(self, user: SimUser, chat: SimChat, content: JSON) -> JSON:
        """A user writes in a chat: store the message and queue a `message` update."""
        message = self._new_message(chat, {"from": dict(user.user), **content})
        self.messages[message_key(message)] = StoredMessage(message)
        if not isinstance(chat, SimGroup) or chat.member:  # a group the bot left: not for it
            self.push_update("message", message)
        return copy.deepcopy(message)

    def callback_query(self, user: SimUser, stored: StoredMessage, data: str) -> str:
        """A user presses a button: queue a `callback_query` update."""
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _CallbackQuery(user)
        query = {
            "id": query_id,
            "from": dict(user.user),
            "message": stored.message,
            "chat_instance": chat_instance(stored.message["chat"]["id"]),
            "data": data,
        }
        self.push_update("callback_query", query)
        return query_id

    def query_answered(self, query_id: str) -> bool:
        """Whether the bot answered this callback query (answerCallbackQuery)."""
        query = self._queries.get(query_id)
        return query is not None and query.answered

    def push_update(self, kind: str, payload: JSON) -> JSON:
        """Queue an Update (checked against the spec) for getUpdates."""
        self.last_update_id = next(self._update_ids)
        update = {"update_id": self.last_update_id, kind: copy.deepcopy(payload)}
        self.spec.check(update, ("Update",), "update")
        self._updates.append(update)
        for watcher in Simulation.watchers:
            watcher("update", kind, update)
        self._wake()
        return update

    def record_request(self, method: str, params: JSON) -> None:
        """Keep a call the bot made, valid or not, and show it to the watchers."""
        self.requests.append((method, params))
        for watcher in Simulation.watchers:
            watcher("request", method, params)

    def close(self) -> None:
        """Stop the world: pending long polls return at once."""
        self.closed = True
        self._wake()

    # ----- dispatch -----

    async def call(self, method: str, params: JSON) -> Any:
        """Execute a validated Bot API call; raise ApiFailure like Telegram would."""
        if method == "getUpdates":
            return await self.get_updates(params)
        handler = self._handlers.get(method)
        if handler is None:
            raise bad_request(NOT_SUPPORTED)
        return handler(params)

    # ----- getUpdates and webhooks -----

    async def get_updates(self, params: JSON) -> list[JSON]:
        """Long polling: confirm by offset, wait up to `timeout` seconds for updates."""
        if self.webhook:
            raise ApiFailure(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        self._confirm(params.get("offset"))
        limit = min(max(params.get("limit", 100), 1), 100)
        deadline = asyncio.get_running_loop().time() + min(max(params.get("timeout", 0), 0), 50)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()
        while not self.closed and generation == self._poll_generation:
            if batch := self._pending(limit):
                return batch
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await self._wait(remaining)
        return []

    def _confirm(self, offset: int | None) -> None:
        """Forget updates before `offset` (negative: keep only the last -offset)."""
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _pending(self, limit: int) -> list[JSON]:
        """Up to `limit` queued updates of the allowed kinds (others are dropped)."""
        allowed = set(self.allowed_updates)
        self._updates = [
            u
            for u in self._updates
            if (update_kind(u) in allowed if allowed else update_kind(u) not in OPT_IN_UPDATES)
        ]
        return copy.deepcopy(self._updates[:limit])

    def _wake(self) -> None:
        """Wake every waiting long poll."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def _wait(self, seconds: float) -> None:
        """Sleep until woken or `seconds` pass."""
        event = self._wakeup
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    def set_webhook(self, params: JSON) -> bool:
        """Store (or with an empty url remove) the webhook; nothing is ever POSTed to it."""
        if not params["url"]:
            self.webhook = None
            return True
        if not params["url"].startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
        return True

    def delete_webhook(self, params: JSON) -> bool:
        """Remove the webhook, optionally dropping pending updates."""
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def get_webhook_info(self, params: JSON) -> JSON:
        """WebhookInfo for the stored webhook."""
        hook = self.webhook or {}
        info: JSON = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        info.update({k: hook[k] for k in ("max_connections", "allowed_updates") if k in hook})
        return info

    def log_out(self, params: JSON) -> bool:
        """logOut and close always succeed."""
        return True

    def get_me(self, params: JSON) -> JSON:
        """The bot's User with its capabilities."""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ----- chats -----

    def find_chat(self, chat_id: int | str) -> SimChat | None:
        """A chat by id or @username."""
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@")
            return next((c for c in self.chats.values() if c.chat.get("username") == name), None)
        return self.chats.get(chat_id)

    def chat_for(self, chat_id: int | str) -> SimChat:
        """An existing chat, else 400 chat not found."""
        chat = self.find_chat(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, chat_id: int | str) -> SimChat:
        """A chat the bot may post in, else 400/403 like Telegram."""
        chat = self.chat_for(chat_id)
        if isinstance(chat, SimUser) and chat.blocked:
            raise ApiFailure(403, "Forbidden: bot was blocked by the user")
        if isinstance(chat, SimGroup) and not chat.member:
            raise ApiFailure(403, NOT_A_MEMBER)
        return chat

    def leave_chat(self, params: JSON) -> bool:
        """The bot leaves a group; it receives and may send nothing there any more."""
        chat = self.chat_for(params["chat_id"])
        if not isinstance(chat, SimGroup):
            raise bad_request("chat member status can't be changed in private chats")
        if not chat.member:
            raise ApiFailure(403, NOT_A_MEMBER)
        chat.member = False
        return True

    def get_chat(self, params: JSON) -> JSON:
        """ChatFullInfo of a known chat."""
        chat = self.chat_for(params["chat_id"])
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        accepted = dict.fromkeys((*gifts, "gifts_from_channels"), False)
        return {
            **chat.chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": accepted,
        }

    def send_chat_action(self, params: JSON) -> bool:
        """Chat actions are accepted and forgotten."""
        self.writable_chat(params["chat_id"])
        if params["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    # ----- sending -----

    def _new_message(self, chat: SimChat, content: JSON) -> JSON:
        """A Message in `chat` with the chat's next message_id."""
        counter = self._message_ids.setdefault(chat.id, itertools.count(1))
        return {"message_id": next(counter), "date": now(), "chat": dict(chat.chat), **content}

    def _send(self, method: str, params: JSON, content: JSON, source: str | None) -> JSON:
        """Post a bot message and show it to the chat."""
        chat = self.writable_chat(params["chat_id"])
        markup = params.get("reply_markup")
        check_reply_markup(markup)
        reply_to = self._reply_target(chat, params.get("reply_parameters"))
        message = self._new_message(chat, {"from": self.bot_user, **content})
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        stored = StoredMessage(message, source, params.get("parse_mode"), markup, from_bot=True)
        self.messages[message_key(message)] = stored
        chat.deliver(self._bot_message(method, stored, params))
        return copy.deepcopy(message)

    def _reply_target(self, chat: SimChat, reply: JSON | None) -> JSON | None:
        """The message a new message replies to, per reply_parameters."""
        if not reply:
            return None
        target_chat = self.chat_for(reply["chat_id"]) if "chat_id" in reply else chat
        stored = self.messages.get((target_chat.id, reply["message_id"]))
        if stored is None or stored.deleted:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        target = copy.deepcopy(stored.message)
        target.pop("reply_to_message", None)
        return target

    @staticmethod
    def _bot_message(method: str, stored: StoredMessage, params: JSON) -> BotMessage:
        """The test's view of a bot message after `method`."""
        message = copy.deepcopy(stored.message)
        return BotMessage(
            method=method,
            chat_id=message["chat"]["id"],
            message_id=message["message_id"],
            text=message.get("text", message.get("caption")),
            html=stored.source,
            reply_markup=copy.deepcopy(stored.markup),
            buttons=flatten_buttons(stored.markup),
            raw=dict(params),
            message=message,
        )

    def send_message(self, params: JSON) -> JSON:
        """sendMessage."""
        text = message_text(params["text"], params.get("parse_mode"))
        return self._send("sendMessage", params, {"text": text}, params["text"])

    def send_photo(self, params: JSON) -> JSON:
        """sendPhoto with an upload, a known file_id or a URL."""
        content = caption_content(params)
        stored = self._input_file(params["photo"], "photos")
        content["photo"] = [photo_size(stored)]
        return self._send("sendPhoto", params, content, params.get("caption"))

    def send_document(self, params: JSON) -> JSON:
        """sendDocument with an upload, a known file_id or a URL."""
        content = caption_content(params)
        stored = self._input_file(params["document"], "documents")
        content["document"] = document(stored)
        return self._send("sendDocument", params, content, params.get("caption"))

    def _input_file(self, value: UploadedFile | str, folder: str) -> StoredFile:
        """The stored file for an InputFile-or-String parameter (URLs are not fetched)."""
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            raise bad_request("wrong file identifier/HTTP URL specified")
        if isinstance(value, str):
            name, data, mime_type = value.rsplit("/", 1)[-1] or None, b"", None
        else:
            name, data, mime_type = value.filename, value.data, value.content_type
        if folder == "photos":
            return self.register_file(data, folder, ".jpg", "image/jpeg")
        suffix = "." + name.rsplit(".", 1)[-1] if name and "." in name else ""
        return self.register_file(data, folder, suffix, mime_type, name)

    def send_location(self, params: JSON) -> JSON:
        """sendLocation."""
        location = self._location(params)
        return self._send("sendLocation", params, {"location": location}, None)

    def send_venue(self, params: JSON) -> JSON:
        """sendVenue."""
        location = self._location(params)
        venue = {"location": location, "title": params["title"], "address": params["address"]}
        content = {"location": location, "venue": venue}
        return self._send("sendVenue", params, content, None)

    @staticmethod
    def _location(params: JSON) -> JSON:
        """A Location from latitude/longitude parameters within range."""
        latitude, longitude = float(params["latitude"]), float(params["longitude"])
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong latitude or longitude")
        return {"latitude": latitude, "longitude": longitude}

    # ----- editing and deleting -----

    def _editable(self, params: JSON) -> tuple[SimChat, StoredMessage]:
        """The bot message an edit refers to."""
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported by the local test server")
        if "chat_id" not in params or "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat = self.writable_chat(params["chat_id"])
        stored = self.messages.get((chat.id, params["message_id"]))
        if stored is None or stored.deleted:
            raise bad_request("message to edit not found")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return chat, stored

    def _apply_edit(self, method: str, params: JSON, content: JSON, source: str | None) -> JSON:
        """Apply new content and markup to a bot message unless nothing changes."""
        chat, stored = self._editable(params)
        markup = params.get("reply_markup")
        check_reply_markup(markup)
        same_content = all(stored.message.get(k) == v for k, v in content.items())
        if (
            same_content
            and source == stored.source
            and stored.message.get("reply_markup") == markup
        ):
            raise bad_request(NOT_MODIFIED)
        stored.message.update(content)
        for key in [k for k, v in content.items() if v is None]:
            stored.message.pop(key)
        stored.message.pop("reply_markup", None)
        if markup:
            stored.message["reply_markup"] = markup
        stored.message["edit_date"] = now()
        stored.source, stored.markup = source, markup
        if content:
            stored.parse_mode = params.get("parse_mode")
        chat.deliver(self._bot_message(method, stored, params))
        return copy.deepcopy(stored.message)

    def edit_message_text(self, params: JSON) -> JSON:
        """editMessageText; without reply_markup the inline keyboard is removed."""
        if "text" not in params:
            raise bad_request("message text is empty")
        text = message_text(params["text"], params.get("parse_mode"))
        if "text" not in self._editable(params)[1].message:
            raise bad_request("there is no text in the message to edit")
        return self._apply_edit("editMessageText", params, {"text": text}, params["text"])

    def edit_message_caption(self, params: JSON) -> JSON:
        """editMessageCaption; an absent caption removes it."""
        caption = caption_content(params).get("caption")
        if "text" in self._editable(params)[1].message:
            raise bad_request("there is no caption in the message to edit")
        content = {"caption": caption}
        return self._apply_edit("editMessageCaption", params, content, params.get("caption"))

    def edit_message_reply_markup(self, params: JSON) -> JSON:
        """editMessageReplyMarkup; an absent reply_markup removes the keyboard."""
        source = self._editable(params)[1].source
        return self._apply_edit("editMessageReplyMarkup", params, {}, source)

    def delete_message(self, params: JSON) -> bool:
        """deleteMessage."""
        chat = self.chat_for(params["chat_id"])
        stored = self.messages.get((chat.id, params["message_id"]))
        if stored is None or stored.deleted:
            raise bad_request("message to delete not found")
        stored.deleted = True
        return True

    # ----- callback queries, commands, menu, files -----

    def answer_callback_query(self, params: JSON) -> bool:
        """Record the answer with the user who pressed the button."""
        query = self._queries.get(params["callback_query_id"])
        if query is None or query.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(params.get("text", "")) > ANSWER_TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.user.callback_answers.append(dict(params))
        return True

    def scope_key(self, scope: JSON | None) -> ScopeKey:
        """("default",), ("chat", chat_id), ("chat_member", chat_id, user_id)..."""
        if scope is None:
            return ("default",)
        if "chat_id" not in scope:
            return (scope["type"],)
        chat_id = self.chat_for(scope["chat_id"]).id
        if "user_id" in scope:
            return (scope["type"], chat_id, scope["user_id"])
        return (scope["type"], chat_id)

    @staticmethod
    def _language(params: JSON) -> str:
        """The language_code parameter: empty or two lowercase letters."""
        code: str = params.get("language_code", "")
        if code and not _LANGUAGE_CODE.fullmatch(code):
            raise bad_request("invalid language code specified")
        return code

    def set_my_commands(self, params: JSON) -> bool:
        """Store the command list of a scope and language."""
        commands = params["commands"]
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            check_command(command)
        key = (self.scope_key(params.get("scope")), self._language(params))
        self.commands[key] = copy.deepcopy(commands)
        return True

    def delete_my_commands(self, params: JSON) -> bool:
        """Forget the command list of a scope and language."""
        self.commands.pop((self.scope_key(params.get("scope")), self._language(params)), None)
        return True

    def get_my_commands(self, params: JSON) -> list[JSON]:
        """The command list of exactly this scope and language."""
        key = (self.scope_key(params.get("scope")), self._language(params))
        return copy.deepcopy(self.commands.get(key, []))

    def set_chat_menu_button(self, params: JSON) -> bool:
        """Store the menu button of a private chat, or the default one."""
        chat_id = self.chat_for(params["chat_id"]).id if "chat_id" in params else None
        self.menu_buttons[chat_id] = params.get("menu_button", {"type": "default"})
        return True

    def get_file(self, params: JSON) -> JSON:
        """A File whose file_path can be downloaded from the file URL."""
        stored = self.files.get(params["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return stored.as_file()


async def read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and a JSON, urlencoded or multipart body."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        params.update(body)
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        for key, value in form.items():
            params[key] = _form_value(key, value)
    return params


def _form_value(key: str, value: str | bytes | bytearray | web.FileField) -> Any:
    """A form value as a string, or an UploadedFile for a file part."""
    if isinstance(value, web.FileField):
        with value.file:
            data = value.file.read()
        return UploadedFile(key, value.filename, value.content_type, data)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def error_response(failure: ApiFailure) -> web.Response:
    """Telegram's error JSON."""
    body = {"ok": False, "error_code": failure.error_code, "description": failure.description}
    return web.json_response(body, status=failure.error_code)


def _drop_connection(request: web.Request) -> web.Response:
    """Close the connection: the client sees it end without an answer."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)  # never written: the transport is closed


def _fault_response(request: web.Request, fault: Flood | ServerError | Drop) -> web.Response:
    """The answer to a call that meets an injected fault or a flood limit."""
    if isinstance(fault, Flood):
        return web.json_response(flood_body(fault.retry_after), status=429)
    if isinstance(fault, ServerError):
        reason = HTTPStatus(fault.status).phrase
        page = GATEWAY_PAGE.format(status=fault.status, reason=reason)
        return web.Response(status=fault.status, text=page, content_type="text/html")
    return _drop_connection(request)


class BotApiServer:
    """The simulation served over HTTP like api.telegram.org, checking every call."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        spec: ApiSpec | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Prepare the aiohttp app; `start()` binds it (port 0 picks a free port)."""
        self.token = token
        self.spec = spec or default_spec()
        self.sim = Simulation(self.spec, token)
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=UPLOAD_LIMIT)
        self.app.router.add_get("/bot{token}/{method}", self._handle_method)
        self.app.router.add_post("/bot{token}/{method}", self._handle_method)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner: web.AppRunner | None = None
        self.faults = Faults()

    @property
    def flood_count(self) -> int:
        """How many 429s the enforced limits answered (scripted floods not included)."""
        return self.faults.flood_count

    @property
    def received(self) -> dict[int, list[float]]:
        """Monotonic moments of every accepted sendMessage, per chat id."""
        return self.faults.received

    def send_counts(self) -> dict[int, int]:
        """How many sendMessage calls each chat received."""
        return {chat_id: len(moments) for chat_id, moments in self.faults.received.items()}

    @property
    def errors(self) -> list[ApiError]:
        """Every refused request."""
        return self.sim.errors

    @property
    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        """Every request, valid or not, as (method, params)."""
        return self.sim.requests

    @property
    def base_url(self) -> str:
        """The Bot API URL with a literal {token} placeholder, for PTB's base_url."""
        return f"http://{self.host}:{self.port}/bot{{token}}"

    @property
    def file_url(self) -> str:
        """The file download URL with a literal {token} placeholder."""
        return f"http://{self.host}:{self.port}/file/bot{{token}}"

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> SimUser:
        """A simulated user (and their private chat); the same object for the same id."""
        return self.sim.add_user(user_id, first_name, last_name, username, language_code)

    def group(self, chat_id: int, title: str = "Test Group") -> SimGroup:
        """A simulated group chat the bot is in."""
        return self.sim.add_group(chat_id, title)

    def commands_for(self, scope_key: ScopeKey, language_code: str = "") -> list[JSON]:
        """The last setMyCommands list for a scope key and language."""
        return self.sim.commands_for(scope_key, language_code)

    async def start(self) -> None:
        """Listen on host:port."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Answer pending long polls and withheld sends, and close the server."""
        self.sim.close()
        self.faults.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    def _reject(self, method: str, params: dict[str, Any], failure: ApiFailure) -> web.Response:
        """Record a refused request and answer it with Telegram's error JSON."""
        self.sim.errors.append(ApiError(method, params, failure.description))
        return error_response(failure)

    def _validate(self, token: str, name: str, raw: dict[str, Any]) -> tuple[str, JSON]:
        """Canonical method and decoded params; ApiFailure if Telegram would refuse."""
        if token != self.token:
            raise ApiFailure(401, "Unauthorized")
        method = self.spec.canonical_method(name)
        if method is None:
            raise ApiFailure(404, "Not Found")
        try:
            return method, self.spec.parse_params(method, raw)
        except SpecError as error:
            raise bad_request(error.message) from None

    async def _handle_method(self, request: web.Request) -> web.Response:
        """One Bot API call."""
        if self.faults.is_down:
            return _drop_connection(request)
        name = request.match_info["method"]
        method = self.spec.canonical_method(name) or name
        try:
            raw = await read_params(request)
        except ApiFailure as failure:
            self.sim.record_request(method, {})
            return self._reject(method, {}, failure)
        try:
            method, params = self._validate(request.match_info["token"], name, raw)
        except ApiFailure as failure:
            self.sim.record_request(method, raw)
            return self._reject(method, raw, failure)
        self.sim.record_request(method, params)
        chat = self.sim.find_chat(params["chat_id"]) if "chat_id" in params else None
        chat_id, group = (chat.id, isinstance(chat, SimGroup)) if chat else (None, False)
        fault = self.faults.next_fault(method, chat_id, group=group)
        if fault is not None:
            return _fault_response(request, fault)
        response = await self._execute(method, params)
        if response.status == 200 and self.faults.accepted(method, chat_id, group=group):
            await self.faults.answer()  # delivered; the answer waits for `faults.release()`
        return response

    async def _execute(self, method: str, params: JSON) -> web.Response:
        """Run a validated call and check the result against the spec."""
        try:
            result = await self.sim.call(method, params)
            self.spec.check(result, self.spec.returns[method], "result")
        except ApiFailure as failure:
            return self._reject(method, params, failure)
        except SpecError as error:
            internal = ApiFailure(500, f"Internal Server Error: {error.message}")
            return self._reject(method, params, internal)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """Download a file by its file_path."""
        if request.match_info["token"] != self.token:
            return error_response(ApiFailure(401, "Unauthorized"))
        stored = self.sim.file_by_path(request.match_info["path"])
        if stored is None:
            return error_response(ApiFailure(404, "Not Found"))
        content_type = stored.mime_type or "application/octet-stream"
        return web.Response(body=stored.data, content_type=content_type)
