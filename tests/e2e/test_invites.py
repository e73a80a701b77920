"""`dukcapil-bot invite`: a one-time, expiring deep link that gives a role."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.cli import main
from bot.engine import open_database
from bot.services.invites import create_invite
from bot.storage.users import get_user
from tests.conftest import NOW, TOKEN


def payload_of(link: str) -> str:
    return link.rsplit("start=", 1)[1]


async def role_of(settings, telegram_id):
    conn = await open_database(settings)
    try:
        return await get_user(conn, telegram_id)
    finally:
        await conn.close()


@pytest.mark.engines("sqlite", "postgresql")
async def test_an_invitation_link_gives_the_role_once(
    running_bot, settings, botapi, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    if settings.database_url:  # the command on the bot's PostgreSQL
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_API_URL", settings.bot_api_url)
    args = ["invite", "--role", "staff", "--service-point", "tla-wlingi", "--hours", "24"]
    assert await asyncio.to_thread(main, args) == 0
    link = capsys.readouterr().out.splitlines()[0]
    username = botapi.sim.bot_user["username"]
    assert link.startswith(f"https://t.me/{username}?start=inv_")

    newcomer, latecomer = botapi.user(7901), botapi.user(7902)
    newcomer.send_text(f"/start {payload_of(link)}")
    welcome = await newcomer.next_message()
    assert "petugas" in welcome.text
    assert "tla-wlingi" in welcome.text
    user = await role_of(settings, 7901)
    assert (user.role, user.service_point) == ("staff", "tla-wlingi")
    for _ in range(50):  # the staff command menu follows
        if botapi.commands_for(("chat", 7901)):
            break
        await asyncio.sleep(0.02)
    assert "hari_ini" in {c["command"] for c in botapi.commands_for(("chat", 7901))}

    latecomer.send_text(f"/start {payload_of(link)}")  # the same link a second time
    assert "tidak berlaku" in (await latecomer.next_message()).text
    assert await role_of(settings, 7902) is None
    newcomer.send_text(f"/start {payload_of(link)}")  # even its own claimer
    assert "tidak berlaku" in (await newcomer.next_message()).text


async def test_an_expired_or_invented_invitation_is_refused(running_bot, settings, botapi, clock):
    db = running_bot.bot_data["db"]
    payload = await create_invite(
        db, "admin", service_point=None, area=None, now=NOW - timedelta(hours=73)
    )
    citizen = botapi.user(7903)
    citizen.send_text(f"/start {payload}")  # 72 hours have passed
    assert "tidak berlaku" in (await citizen.next_message()).text
    citizen.send_text("/start inv_" + "A" * 32)
    assert "tidak berlaku" in (await citizen.next_message()).text
    assert await role_of(settings, 7903) is None


async def test_an_invitation_opened_in_a_group_is_not_claimed(running_bot, settings, botapi):
    db = running_bot.bot_data["db"]
    payload = await create_invite(db, "official", service_point=None, area="35.05.10", now=NOW)
    group, person = botapi.group(-7900), botapi.user(7904)
    person.send_text(f"/start {payload}", chat=group)  # /start is for private chats only
    await group.no_message(within=0.5)
    assert await role_of(settings, 7904) is None
    person.send_text(f"/start {payload}")  # still valid in private
    assert "perangkat desa" in (await person.next_message()).text


def test_invite_checks_the_role_details(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["invite", "--role", "staff"]) == 2
    assert "service-point" in capsys.readouterr().err
    assert main(["invite", "--role", "admin", "--hours", "0"]) == 2
    assert main(["invite", "--role", "admin"]) == 0
    assert capsys.readouterr().out.startswith("https://t.me/<bot username>?start=inv_")
