"""End to end: the command menu speaks the chat's language, for citizens and role accounts."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import ADMIN_ID, STAFF_ID

pytestmark = pytest.mark.usefixtures("running_bot")


async def chat_menu(botapi, chat_id, language="", *, until):
    """The chat's own menu in a language, once `until` holds (a menu is set after the reply)."""
    menu = {}
    for _ in range(100):
        menu = {
            c["command"]: c["description"] for c in botapi.commands_for(("chat", chat_id), language)
        }
        if until(menu):
            break
        await asyncio.sleep(0.02)
    return menu


async def choose_language(user, locale):
    user.send_text("/bahasa")
    user.press(await user.next_message(), f"lang:{locale}")
    await user.next_message()


async def test_a_citizen_who_chooses_english_gets_the_menu_in_english(botapi):
    citizen = botapi.user(2101, language_code="id")
    await choose_language(citizen, "en")
    for language in ("", "en"):  # whatever the language of the person's Telegram app
        menu = await chat_menu(botapi, 2101, language, until=bool)
        assert menu["cek"] == "Check NIK status and e-KTP recording"
        assert "hari_ini" not in menu
    await choose_language(citizen, "id")
    menu = await chat_menu(botapi, 2101, "en", until=lambda m: m.get("cek", "").startswith("Cek"))
    assert menu["cek"] == "Cek status NIK dan perekaman e-KTP"


async def test_staff_who_choose_english_get_the_staff_menu_in_english(botapi):
    staff = botapi.user(STAFF_ID)
    staff.send_text("/start")
    await staff.next_message()
    await chat_menu(botapi, STAFF_ID, until=bool)
    await choose_language(staff, "en")
    menu = await chat_menu(botapi, STAFF_ID, until=lambda m: m.get("cek", "").startswith("Check"))
    assert next(iter(menu)) == "hari_ini"
    assert menu["hari_ini"] == "Staff: today's queue"
    assert menu["cek"] == "Check NIK status and e-KTP recording"
    assert "statistik" not in menu
    staff.send_text("/start")  # the role menu refreshed on /start stays in English
    await staff.next_message()
    await staff.no_message(within=0.3)
    assert botapi.commands_for(("chat", STAFF_ID))[0]["description"] == "Staff: today's queue"


async def test_a_removed_role_leaves_the_citizens_menu_in_the_chats_language(botapi):
    staff = botapi.user(STAFF_ID)
    await choose_language(staff, "en")
    await chat_menu(botapi, STAFF_ID, until=lambda m: "hari_ini" in m)
    admin = botapi.user(ADMIN_ID)
    admin.send_text(f"/cabut {STAFF_ID}")
    assert "sudah dicabut" in (await admin.next_message()).text
    for language in ("", "en"):
        menu = await chat_menu(botapi, STAFF_ID, language, until=lambda m: "hari_ini" not in m)
        assert "hari_ini" not in menu
        assert menu["cek"] == "Check NIK status and e-KTP recording"
