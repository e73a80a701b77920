"""Taking a role or an unused invitation away: `dukcapil-bot remove-user` / `revoke-invite` and
the admins' /cabut. A staff member who leaves loses their commands and their command menu."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.cli import main
from bot.engine import open_database
from bot.services.invites import create_invite
from bot.storage.users import get_user
from tests.conftest import ADMIN_ID, NOW, OFFICIAL_ID, STAFF_ID, TOKEN


async def role_of(settings, telegram_id):
    conn = await open_database(settings)
    try:
        return await get_user(conn, telegram_id)
    finally:
        await conn.close()


async def audited(settings, action):
    conn = await open_database(settings)
    try:
        query = "SELECT actor_id, detail FROM audit_log WHERE action = ? ORDER BY id"
        return [tuple(row) for row in await conn.execute_fetchall(query, (action,))]
    finally:
        await conn.close()


async def staff_menu(botapi, telegram_id=STAFF_ID):
    """The command names of the account's own menu (empty: the citizens' default applies)."""
    for _ in range(50):  # a menu is set after the reply is sent
        names = {c["command"] for c in botapi.commands_for(("chat", telegram_id))}
        if names:
            return names
        await asyncio.sleep(0.02)
    return set()


async def open_role_chat(botapi, telegram_id=STAFF_ID):
    user = botapi.user(telegram_id)
    user.send_text("/start")
    await user.next_message()
    assert "hari_ini" in await staff_menu(botapi, telegram_id)
    return user


def cli_env(monkeypatch, settings, *, token=True):
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # "" on SQLite
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("BOT_API_URL", settings.bot_api_url)
    if token:
        monkeypatch.setenv("BOT_TOKEN", TOKEN)
    else:
        monkeypatch.delenv("BOT_TOKEN", raising=False)


async def test_remove_user_takes_the_role_and_its_menu(
    running_bot, settings, botapi, monkeypatch, capsys
):
    staff = await open_role_chat(botapi)
    cli_env(monkeypatch, settings)
    assert await asyncio.to_thread(main, ["remove-user", "--telegram-id", str(STAFF_ID)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"removed the staff role of {STAFF_ID}"]
    assert await role_of(settings, STAFF_ID) is None
    for language in ("", "en"):
        assert botapi.commands_for(("chat", STAFF_ID), language) == []
    staff.send_text("/hari_ini")
    assert "hanya untuk petugas" in (await staff.next_message()).text
    staff.send_text("/start")  # a citizen again: no role menu comes back
    await staff.next_message()
    await staff.no_message(within=0.3)
    assert botapi.commands_for(("chat", STAFF_ID)) == []
    assert await audited(settings, "remove-user") == [(None, f"telegram_id={STAFF_ID} role=staff")]
    assert await asyncio.to_thread(main, ["remove-user", "--telegram-id", str(STAFF_ID)]) == 2
    assert "has no role" in capsys.readouterr().err


async def test_revoke_invite_takes_the_printed_link(
    running_bot, settings, botapi, monkeypatch, capsys
):
    cli_env(monkeypatch, settings)
    args = ["invite", "--role", "staff", "--service-point", "kanigoro"]
    assert await asyncio.to_thread(main, args) == 0
    link = capsys.readouterr().out.splitlines()[0]
    assert await asyncio.to_thread(main, ["revoke-invite", link]) == 0
    assert "can no longer be used" in capsys.readouterr().out
    newcomer = botapi.user(7911)
    newcomer.send_text(f"/start {link.rsplit('start=', 1)[1]}")
    assert "tidak berlaku" in (await newcomer.next_message()).text
    assert await role_of(settings, 7911) is None
    assert await asyncio.to_thread(main, ["revoke-invite", link]) == 0
    assert "revoked already" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["revoke-invite", "inv_" + "A" * 32]) == 2
    assert "no invitation has this link" in capsys.readouterr().err
    details = [detail for _, detail in await audited(settings, "revoke-invite")]
    assert details == [
        "role=staff outcome=revoked claimed_by=None",
        "role=staff outcome=revoked_before claimed_by=None",
    ]


async def test_a_used_invitation_names_who_to_remove(
    running_bot, settings, botapi, monkeypatch, capsys
):
    payload = await create_invite(
        running_bot.bot_data["db"], "admin", service_point=None, area=None, now=NOW
    )
    claimer = botapi.user(7912)
    claimer.send_text(f"/start {payload}")
    await claimer.next_message()
    cli_env(monkeypatch, settings, token=False)
    assert await asyncio.to_thread(main, ["revoke-invite", payload]) == 1
    out = capsys.readouterr().out
    assert "used by 7912" in out
    assert "remove-user --telegram-id 7912" in out
    assert await asyncio.to_thread(main, ["remove-user", "--telegram-id", "7912"]) == 0
    assert "could not be reset now" in capsys.readouterr().out  # no BOT_TOKEN: said so


async def test_revoke_every_open_invitation(running_bot, settings, botapi, monkeypatch, capsys):
    db = running_bot.bot_data["db"]
    payloads = [
        await create_invite(db, "official", service_point=None, area="35.05.10", now=now)
        for now in (NOW, datetime.now(UTC))  # expired by the CLI's clock, not by the bot's
    ]
    cli_env(monkeypatch, settings, token=False)
    assert await asyncio.to_thread(main, ["revoke-invite", "--all"]) == 0
    assert capsys.readouterr().out.strip() == "revoked 2 unused invitation(s)"
    person = botapi.user(7913)
    person.send_text(f"/start {payloads[0]}")  # unexpired by the bot's clock, but revoked
    assert "tidak berlaku" in (await person.next_message()).text


async def test_an_admin_removes_a_role_in_the_chat(running_bot, settings, botapi):
    staff = await open_role_chat(botapi)
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/cabut")
    usage = await admin.next_message()
    assert f"{STAFF_ID}</code> petugas (kanigoro)" in usage.html
    admin.send_text(f"/cabut {STAFF_ID}")
    done = await admin.next_message()
    assert "sudah dicabut" in done.text
    assert await role_of(settings, STAFF_ID) is None
    assert botapi.commands_for(("chat", STAFF_ID)) == []
    staff.send_text("/hari_ini")
    assert "hanya untuk petugas" in (await staff.next_message()).text
    assert await audited(settings, "remove-user") == [
        (ADMIN_ID, f"telegram_id={STAFF_ID} role=staff")
    ]
    admin.send_text(f"/cabut {STAFF_ID}")  # twice
    assert "tidak memiliki peran" in (await admin.next_message()).text
    admin.send_text(f"/cabut {ADMIN_ID}")  # never their own
    assert "akun Anda sendiri" in (await admin.next_message()).text
    assert (await role_of(settings, ADMIN_ID)).role == "admin"


async def test_an_admin_revokes_an_invitation_link_in_the_chat(running_bot, settings, botapi):
    payload = await create_invite(
        running_bot.bot_data["db"], "staff", service_point="kanigoro", area=None, now=NOW
    )
    admin = botapi.user(ADMIN_ID)
    admin.send_text(f"/cabut https://t.me/{botapi.sim.bot_user['username']}?start={payload}")
    assert "dibatalkan" in (await admin.next_message()).text
    newcomer = botapi.user(7914)
    newcomer.send_text(f"/start {payload}")
    assert "tidak berlaku" in (await newcomer.next_message()).text
    assert await audited(settings, "revoke-invite") == [
        (ADMIN_ID, "role=staff outcome=revoked claimed_by=None")
    ]


async def test_only_an_admin_may_revoke(running_bot, settings, botapi):
    official = botapi.user(OFFICIAL_ID)
    official.send_text(f"/cabut {STAFF_ID}")
    assert "hanya untuk petugas" in (await official.next_message()).text
    assert (await role_of(settings, STAFF_ID)).role == "staff"
