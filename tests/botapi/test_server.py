"""The local Bot API server speaks the Bot API to a real PTB bot and refuses invalid calls."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from botapi import BotApiServer, SimUser
from botapi.html_check import HtmlError, html_to_text

TOKEN = "123456:TEST-TOKEN"
USER_ID = 1001
GROUP_ID = -100500


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in buttons]])


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN) as srv:
        yield srv


@pytest.fixture
async def bot(server: BotApiServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.file_url) as tg_bot:
        yield tg_bot


@pytest.fixture
def user(server: BotApiServer) -> SimUser:
    return server.user(USER_ID, first_name="Siti", language_code="id")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def raw_call(
    http: aiohttp.ClientSession,
    server: BotApiServer,
    method: str,
    *,
    token: str = TOKEN,
    **kwargs: Any,
) -> tuple[int, dict[str, Any]]:
    """POST (or GET with params=) a method by hand; returns (status, JSON body)."""
    url = f"{server.base_url.format(token=token)}/{method}"
    verb = "GET" if "params" in kwargs and "data" not in kwargs and "json" not in kwargs else "POST"
    async with http.request(verb, url, **kwargs) as response:
        return response.status, await response.json()


# ----- basics -----


async def test_get_me_describes_the_bot(bot: Bot, server: BotApiServer) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "dukcapil_test_bot")
    assert me.first_name == "Dukcapil Test Bot"
    assert me.can_join_groups is True
    assert server.base_url.endswith("/bot{token}")
    assert server.errors == []


async def test_send_message_round_trip(bot: Bot, user: SimUser, server: BotApiServer) -> None:
    markup = keyboard(("Cek", "cek:link"), ("Bantuan", "help"))
    sent = await bot.send_message(
        USER_ID, "Halo <b>Siti</b> &amp; warga", parse_mode="HTML", reply_markup=markup
    )
    out = await user.next_message(timeout=1)
    assert out.method == "sendMessage"
    assert (out.chat_id, out.message_id) == (USER_ID, sent.message_id)
    assert out.text == sent.text == "Halo Siti & warga"
    assert out.html == "Halo <b>Siti</b> &amp; warga"
    assert out.buttons == [("Cek", "cek:link"), ("Bantuan", "help")]
    assert sent.reply_markup == markup
    assert sent.from_user is not None
    assert sent.from_user.username == "dukcapil_test_bot"
    second = await bot.send_message(USER_ID, "lagi")
    assert second.message_id == sent.message_id + 1
    assert user.inbox == [out, await user.next_message(timeout=1)]
    assert server.errors == []


async def test_method_names_are_case_insensitive_and_all_encodings_work(
    http: aiohttp.ClientSession, server: BotApiServer, user: SimUser
) -> None:
    status, body = await raw_call(http, server, "SENDMESSAGE", json={"chat_id": 1001, "text": "a"})
    assert (status, body["result"]["text"]) == (200, "a")
    status, _ = await raw_call(http, server, "sendMessage", params={"chat_id": "1001", "text": "b"})
    assert status == 200
    form = {"chat_id": "1001", "text": "c", "disable_notification": "true"}
    status, _ = await raw_call(http, server, "sendmessage", data=form)
    assert status == 200
    assert [m.text for m in user.inbox] == ["a", "b", "c"]
    assert [r[0] for r in server.requests] == ["sendMessage"] * 3
    assert server.requests[-1][1]["disable_notification"] is True
    assert server.errors == []


async def test_wrong_token_and_unknown_method(
    http: aiohttp.ClientSession, server: BotApiServer
) -> None:
    status, body = await raw_call(http, server, "getMe", token="1:WRONG")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await raw_call(http, server, "sendTelepathy")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert [e.description for e in server.errors] == ["Unauthorized", "Not Found"]
    wrong = Bot("1:WRONG", base_url=server.base_url)
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()
    finally:
        await wrong.shutdown()


async def test_unsupported_method_is_validated_then_refused(
    http: aiohttp.ClientSession, server: BotApiServer
) -> None:
    status, body = await raw_call(http, server, "sendDice", data={"chat_id": "1", "emojii": "x"})
    assert (status, body["description"]) == (400, "Bad Request: unknown parameter emojii")
    status, body = await raw_call(http, server, "sendDice", data={"chat_id": "1"})
    assert status == 400
    assert body["description"] == "Bad Request: method not supported by the local test server"
    assert len(server.errors) == 2


async def test_multipart_attach_references(
    http: aiohttp.ClientSession, server: BotApiServer, user: SimUser
) -> None:
    form = aiohttp.FormData({"chat_id": "1001", "document": "attach://surat"})
    form.add_field("surat", b"%PDF", filename="surat.pdf", content_type="application/pdf")
    status, body = await raw_call(http, server, "sendDocument", data=form)
    assert status == 200
    assert body["result"]["document"]["file_name"] == "surat.pdf"
    form = aiohttp.FormData({"chat_id": "1001", "document": "attach://surat"})
    form.add_field("surat", b"%PDF", filename="surat.pdf")
    form.add_field("extra", b"??", filename="extra.bin")
    status, body = await raw_call(http, server, "sendDocument", data=form)
    assert (status, body["description"]) == (400, "Bad Request: unknown parameter extra")
    form = aiohttp.FormData({"chat_id": "1001", "document": "attach://missing"})
    status, body = await raw_call(http, server, "sendDocument", data=form)
    assert "attach://missing of parameter document not found" in body["description"]
    status, body = await raw_call(
        http, server, "setWebhook", data={"url": "https://a.id", "certificate": "x"}
    )
    assert "certificate must be of type InputFile" in body["description"]


# ----- validation against the spec -----


async def test_unknown_parameter_is_refused_and_recorded(
    bot: Bot, user: SimUser, server: BotApiServer
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)unknown parameter colour"):
        await bot.send_message(USER_ID, "hai", api_kwargs={"colour": "red"})
    [error] = server.errors
    assert error.method == "sendMessage"
    assert error.params["colour"] == "red"
    assert error.description == "Bad Request: unknown parameter colour"
    assert server.requests[-1] == ("sendMessage", error.params)
    await user.no_message(within=0.05)


async def test_missing_required_parameter_is_refused(
    http: aiohttp.ClientSession, server: BotApiServer, user: SimUser
) -> None:
    status, body = await raw_call(http, server, "sendMessage", data={"chat_id": "1001"})
    assert status == 400
    assert body["description"] == "Bad Request: parameter text is required"
    assert server.errors[0].params == {"chat_id": "1001"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"chat_id": True}, "chat_id must be of type Integer or String, not Boolean"),
        ({"text": 5}, "text must be of type String, not Integer"),
        ({"disable_notification": "1"}, "disable_notification must be of type Boolean"),
        ({"reply_markup": "{not json"}, "can't parse parameter reply_markup"),
        (
            {"reply_markup": {"inline_keyboard": [[{"text": 1, "callback_data": "a"}]]}},
            "inline_keyboard[0][0].text must be of type String",
        ),
        (
            {"reply_markup": '{"inline_keyboard": [[{"text": "a", "callback": "b"}]]}'},
            "unknown field callback in reply_markup.inline_keyboard[0][0]",
        ),
        ({"reply_parameters": {"chat_id": 1}}, "reply_parameters.message_id is required"),
        ({"link_preview_options": [1]}, "link_preview_options must be of type"),
    ],
)
async def test_wrong_types_are_refused(
    http: aiohttp.ClientSession,
    server: BotApiServer,
    user: SimUser,
    params: dict[str, Any],
    message: str,
) -> None:
    body_json = {"chat_id": USER_ID, "text": "x", **params}
    status, body = await raw_call(http, server, "sendMessage", json=body_json)
    assert status == 400
    assert message in body["description"]
    assert len(server.errors) == 1


async def test_bot_command_scope_is_selected_by_its_type(
    http: aiohttp.ClientSession, server: BotApiServer, user: SimUser
) -> None:
    commands = json.dumps([{"command": "start", "description": "Mulai"}])
    scope = json.dumps({"type": "chat"})
    data = {"commands": commands, "scope": scope}
    status, body = await raw_call(http, server, "setMyCommands", data=data)
    assert status == 400
    assert "field scope.chat_id is required" in body["description"]
    data["scope"] = json.dumps({"type": "galaxy"})
    status, body = await raw_call(http, server, "setMyCommands", data=data)
    assert "unsupported BotCommandScope type" in body["description"]


# ----- Telegram's limits -----


async def test_text_length_is_measured_after_html_parsing(
    bot: Bot, user: SimUser, server: BotApiServer
) -> None:
    await bot.send_message(USER_ID, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER_ID, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER_ID, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(USER_ID, b"\xff\xd8", caption="y" * 1025)
    assert len(server.errors) == 3
    assert len(user.inbox) == 1


async def test_callback_data_is_limited_to_64_bytes(
    bot: Bot, user: SimUser, server: BotApiServer
) -> None:
    await bot.send_message(USER_ID, "ok", reply_markup=keyboard(("a", "é" * 32)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER_ID, "no", reply_markup=keyboard(("a", "x" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER_ID, "no", reply_markup=keyboard(("a", "é" * 33)))
    assert [e.description for e in server.errors] == ["Bad Request: BUTTON_DATA_INVALID"] * 2


@pytest.mark.parametrize(
    "text",
    [
        "<b>x",
        "<script>alert(1)</script>",
        "1 < 2",
        "2 > 1",
        "&foo;",
        "Tom & Jerry",
        "<b><i>x</b></i>",
        "x</b>",
        '<span class="red">x</span>',
        '<a href="https://a.id" target="_blank">x</a>',
        "<code><b>x</b></code>",
        "<br/>",
    ],
)
async def test_malformed_html_is_refused(
    bot: Bot, user: SimUser, server: BotApiServer, text: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER_ID, text, parse_mode="HTML")
    assert len(server.errors) == 1
    await bot.send_message(USER_ID, text)  # the same text without parse_mode is fine


async def test_well_formed_html_is_accepted(bot: Bot, user: SimUser, server: BotApiServer) -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span> <a href="https://x.id/?a=1&amp;b=2">link</a> '
        '<code>c</code><pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>quote <b>bold</b></blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        " &lt;&gt;&amp;&quot;&#65;&#x42; <B>upper</B>"
    )
    sent = await bot.send_message(USER_ID, html, parse_mode="HTML")
    assert sent.text == 'bsieunskdpq link cx = 1quote bold👍 <>&"AB upper'
    assert server.errors == []


def test_html_errors_carry_byte_offsets() -> None:
    with pytest.raises(HtmlError, match=r'Unsupported start tag "script" at byte offset 3'):
        html_to_text("é <script>")
    with pytest.raises(HtmlError, match=r'find end tag corresponding to start tag "i"'):
        html_to_text("<i><b>x</b>")
    assert html_to_text("a&#10;b") == "a\nb"


async def test_set_my_commands_per_scope(bot: Bot, user: SimUser, server: BotApiServer) -> None:
    await bot.set_my_commands([BotCommand("start", "Mulai"), BotCommand("cek", "Cek status")])
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    await bot.set_my_commands(
        [BotCommand("admin", "Admin")], scope=BotCommandScopeChat(USER_ID), language_code="id"
    )
    await bot.set_my_commands([BotCommand("x", "X")], scope=BotCommandScopeAllPrivateChats())
    assert [c["command"] for c in server.commands_for(("default",))] == ["start", "cek"]
    assert server.commands_for(("default",), "en") == [{"command": "start", "description": "Start"}]
    assert server.commands_for(("chat", USER_ID), "id")[0]["command"] == "admin"
    assert server.commands_for(("chat", USER_ID)) == []
    assert server.commands_for(("all_private_chats",))[0]["command"] == "x"
    fetched = await bot.get_my_commands(scope=BotCommandScopeChat(USER_ID), language_code="id")
    assert fetched == (BotCommand("admin", "Admin"),)
    await bot.delete_my_commands(language_code="en")
    assert server.commands_for(("default",), "en") == []
    await bot.set_chat_menu_button(USER_ID, MenuButtonCommands())
    assert server.sim.menu_buttons[USER_ID] == {"type": "commands"}
    assert server.errors == []


@pytest.mark.parametrize(
    ("command", "description", "error"),
    [
        ("Start", "Mulai", "BOT_COMMAND_INVALID"),
        ("mulai-sekarang", "Mulai", "BOT_COMMAND_INVALID"),
        ("a" * 33, "Mulai", "BOT_COMMAND_INVALID"),
        ("", "Mulai", "BOT_COMMAND_INVALID"),
        ("start", "", "BOT_COMMAND_DESCRIPTION_INVALID"),
        ("start", "d" * 257, "BOT_COMMAND_DESCRIPTION_INVALID"),
    ],
)
async def test_invalid_commands_are_refused(
    bot: Bot, server: BotApiServer, command: str, description: str, error: str
) -> None:
    with pytest.raises(BadRequest, match=rf"(?i){error}"):
        await bot.set_my_commands([BotCommand(command, description)])
    assert server.commands_for(("default",)) == []
    assert len(server.errors) == 1


# ----- chats, edits, deletes -----


async def test_blocked_user_and_unknown_chat(bot: Bot, user: SimUser, server: BotApiServer) -> None:
    user.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "halo")
    user.unblock()
    await bot.send_message(USER_ID, "halo")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "siapa?")
    assert [e.description for e in server.errors] == [
        "Forbidden: bot was blocked by the user",
        "Bad Request: chat not found",
    ]


async def test_edits_and_deletes(bot: Bot, user: SimUser, server: BotApiServer) -> None:
    sent = await bot.send_message(USER_ID, "satu", reply_markup=keyboard(("a", "a")))
    await user.next_message(timeout=1)
    edited = await bot.edit_message_text("dua", chat_id=USER_ID, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "dua"
    out = await user.next_message(timeout=1)
    assert (out.method, out.text, out.buttons, out.message_id) == (
        "editMessageText",
        "dua",
        [],
        sent.message_id,
    )
    assert "edit_date" in out.message
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("dua", chat_id=USER_ID, message_id=sent.message_id)
    await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=keyboard(("b", "b")))
    assert (await user.next_message(timeout=1)).buttons == [("b", "b")]
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=999)
    assert await bot.delete_message(USER_ID, sent.message_id) is True
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("tiga", chat_id=USER_ID, message_id=sent.message_id)
    assert len(server.errors) == 3


async def test_group_chat_and_replies(bot: Bot, user: SimUser, server: BotApiServer) -> None:
    group = server.group(GROUP_ID, title="Grup Desa")
    written = user.send_text("halo semua", chat=group)
    assert written["chat"] == {"id": GROUP_ID, "type": "group", "title": "Grup Desa"}
    [update] = await bot.get_updates()
    assert update.message is not None
    reply = await update.message.reply_text("halo juga", do_quote=True)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "halo semua"
    out = await group.next_message(timeout=1)
    assert (out.chat_id, out.text) == (GROUP_ID, "halo juga")
    await user.no_message(within=0.05)
    await bot.send_message(GROUP_ID, "pilih", reply_markup=ReplyKeyboardMarkup([["Ya", "Tidak"]]))
    assert (await group.next_message(timeout=1)).buttons == [("Ya", None), ("Tidak", None)]
    await bot.send_message(GROUP_ID, "balas", reply_markup=ForceReply())
    assert server.errors == []


async def test_other_send_methods(bot: Bot, user: SimUser, server: BotApiServer) -> None:
    await bot.send_chat_action(USER_ID, "typing")
    location = await bot.send_location(USER_ID, -8.0954, 112.1609)
    assert location.location is not None
    venue = await bot.send_venue(USER_ID, -8.1, 112.2, "Dispendukcapil", "Jl. Semeru 1")
    assert venue.venue is not None
    assert venue.venue.title == "Dispendukcapil"
    chat = await bot.get_chat(USER_ID)
    assert (chat.id, chat.first_name) == (USER_ID, "Siti")
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(USER_ID, "dancing")
    assert [m.method for m in user.inbox] == ["sendLocation", "sendVenue"]
    assert len(server.errors) == 1


# ----- updates -----


async def test_get_updates_long_polls_and_offset_confirms(
    bot: Bot, user: SimUser, server: BotApiServer
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    user.send_text("/start@dukcapil_test_bot halo")
    [update] = await poll
    assert time.monotonic() - started < 2
    assert update.message is not None
    assert update.message.text == "/start@dukcapil_test_bot halo"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "id"
    [entity] = update.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 24)
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert await bot.get_updates(timeout=0) == ()
    assert server.errors == []


async def test_get_updates_times_out_empty_and_honours_limit_and_allowed_updates(
    bot: Bot, user: SimUser
) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 3
    for text in ("a", "b", "c"):
        user.send_text(text)
    assert len(await bot.get_updates(limit=2)) == 2
    user.edit_text(user.send_text("d"), "d2")
    updates = await bot.get_updates(allowed_updates=["edited_message"])
    assert [u.edited_message.text for u in updates if u.edited_message] == ["d2"]
    assert len(updates) == 1


async def test_stopping_the_server_ends_pending_long_polls(
    http: aiohttp.ClientSession, server: BotApiServer
) -> None:
    polls_before = server.sim._poll_generation
    poll = asyncio.create_task(raw_call(http, server, "getUpdates", data={"timeout": "30"}))
    # Wait until the long poll is really pending (a fixed short sleep lost the race under load).
    for _ in range(500):
        if server.sim._poll_generation > polls_before:
            break
        await asyncio.sleep(0.01)
    assert server.sim._poll_generation > polls_before
    started = time.monotonic()
    await server.stop()
    status, body = await asyncio.wait_for(poll, 2)
    assert (status, body) == (200, {"ok": True, "result": []})
    assert time.monotonic() - started < 1


async def test_press_produces_callback_query_and_answer_is_recorded(
    bot: Bot, user: SimUser, server: BotApiServer
) -> None:
    await bot.send_message(USER_ID, "Pilih", reply_markup=keyboard(("Cek", "cek:link")))
    out = await user.next_message(timeout=1)
    with pytest.raises(AssertionError, match="no inline button with callback_data 'nope'"):
        user.press(out, "nope")
    query_id = user.press(out, "cek:link")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert (query.id, query.data, query.from_user.id) == (query_id, "cek:link", USER_ID)
    assert query.message is not None
    assert query.message.message_id == out.message_id
    assert query.chat_instance
    await query.answer("Sip", show_alert=True)
    assert user.callback_answers == [
        {"callback_query_id": query_id, "text": "Sip", "show_alert": True}
    ]
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query(query_id)
    assert user.press(out, "forged", raw=True)
    assert len(server.errors) == 1


async def test_user_media_and_contacts_are_faithful_updates(bot: Bot, user: SimUser) -> None:
    user.send_photo(caption="KTP saya", data=b"\xff\xd8photo")
    user.send_document(file_name="kk.pdf", mime_type="application/pdf", size=10)
    user.send_sticker()
    user.send_location(-8.1, 112.2)
    user.send_contact("+628123")
    updates = await bot.get_updates()
    messages = [u.message for u in updates if u.message]
    assert len(messages) == 5
    photo, doc, sticker, location, contact = messages
    assert photo.caption == "KTP saya"
    assert photo.photo
    assert doc.document is not None
    assert (doc.document.file_name, doc.document.file_size) == ("kk.pdf", 10)
    assert sticker.sticker is not None
    assert location.location is not None
    assert location.location.latitude == pytest.approx(-8.1)
    assert contact.contact is not None
    assert (contact.contact.user_id, contact.contact.first_name) == (USER_ID, "Siti")
    file = await bot.get_file(photo.photo[-1].file_id)
    assert await file.download_as_bytearray() == b"\xff\xd8photo"


async def test_send_photo_upload_then_get_file_and_download(
    bot: Bot, user: SimUser, server: BotApiServer, http: aiohttp.ClientSession
) -> None:
    content = b"\xff\xd8\xff\xe0fake-jpeg"
    sent = await bot.send_photo(USER_ID, content, caption="<i>Foto</i>", parse_mode="HTML")
    out = await user.next_message(timeout=1)
    assert (out.method, out.text, out.html) == ("sendPhoto", "Foto", "<i>Foto</i>")
    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path is not None
    assert file.file_path.startswith(server.file_url.format(token=TOKEN))
    assert await file.download_as_bytearray() == content
    again = await bot.send_photo(USER_ID, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    doc = await bot.send_document(USER_ID, b"%PDF-1.4", filename="surat.pdf")
    assert doc.document is not None
    assert doc.document.file_name == "surat.pdf"
    wrong = f"{server.file_url.format(token='1:WRONG')}/{file.file_path.rsplit('/', 2)[-2]}"
    async with http.get(wrong) as response:
        assert response.status == 401
    assert server.errors == []


async def test_next_message_and_no_message_fail_clearly(bot: Bot, user: SimUser) -> None:
    with pytest.raises(AssertionError, match=r"sent nothing to chat 1001 within 0\.05s"):
        await user.next_message(timeout=0.05)
    await bot.send_message(USER_ID, "kejutan")
    with pytest.raises(AssertionError, match="expected silence"):
        await user.no_message(within=0.2)


# ----- end to end with a PTB Application -----


async def start_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply to /start with bold HTML and a button."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        "<b>Halo</b>", parse_mode="HTML", reply_markup=keyboard(("Cek", "cek:link"))
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press and edit the message."""
    query = update.callback_query
    assert query is not None
    await query.answer("Dicek")
    await query.edit_message_text(f"Dipilih: {query.data}")


async def test_application_end_to_end(server: BotApiServer) -> None:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start_command))
    app.add_handler(CallbackQueryHandler(on_button))
    user = server.user(2002, first_name="Budi")
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    await app.start()
    started = time.monotonic()
    try:
        user.send_text("/start")
        reply = await user.next_message(timeout=5)
        assert (reply.text, reply.html) == ("Halo", "<b>Halo</b>")
        assert reply.buttons == [("Cek", "cek:link")]
        user.press(reply, "cek:link")
        edited = await user.next_message(timeout=5)
        assert (edited.method, edited.text) == ("editMessageText", "Dipilih: cek:link")
        assert user.callback_answers[0]["text"] == "Dicek"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert time.monotonic() - started < 5
    assert server.errors == []
