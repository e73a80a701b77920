"""End to end: linking a NIK or a household with consent, /pengingat, /hapus_data, /bahasa."""

from __future__ import annotations

import pytest

from bot.engine import open_database
from bot.storage.links import list_links
from tests.conftest import PEOPLE

pytestmark = pytest.mark.usefixtures("running_bot")


async def links_in_db(settings) -> list[tuple]:
    """Every link as (chat, kind, subject in clear, reminders on), read back by the storage
    module from the residents it names."""
    conn = await open_database(settings)
    try:
        chats = await conn.execute_fetchall("SELECT DISTINCT chat_id FROM links ORDER BY chat_id")
        return [
            (link.chat_id, link.kind, link.subject, int(link.reminders_on))
            for (chat,) in chats
            for link in await list_links(conn, chat)
        ]
    finally:
        await conn.close()


async def verified_status(user, who="turning17"):
    person = PEOPLE[who]
    user.send_text(f"/cek {person.nik} {person.kk}")
    return await user.next_message()


def data_of(message, prefix: str) -> str:
    return next(data for _, data in message.buttons if data.startswith(prefix))


async def link_with_consent(user, who="turning17", kind="nik"):
    status = await verified_status(user, who)
    user.press(status, data_of(status, f"link:{kind}:"))
    consent = await user.next_message()
    user.press(consent, data_of(consent, f"consent:{kind}:"))
    return await user.next_message()


async def test_link_nik_needs_explicit_consent(botapi, settings):
    user = botapi.user(2001)
    status = await verified_status(user)
    user.press(status, data_of(status, "link:nik:"))
    consent = await user.next_message()
    assert "Persetujuan" in consent.text
    assert await links_in_db(settings) == []  # nothing stored before consent
    user.press(consent, data_of(consent, "consent:nik:"))
    done = await user.next_message()
    assert "sudah ditautkan" in done.text
    assert await links_in_db(settings) == [(2001, "nik", PEOPLE["turning17"].nik, 1)]


async def test_declining_consent_links_nothing(botapi, settings):
    user = botapi.user(2002)
    status = await verified_status(user)
    user.press(status, data_of(status, "link:kk:"))
    consent = await user.next_message()
    user.press(consent, "consent:no")
    assert "tidak ada yang ditautkan" in (await user.next_message()).text
    assert await links_in_db(settings) == []


@pytest.mark.engines("sqlite", "postgresql")
async def test_link_household_then_list_toggle_and_erase(botapi, settings):
    user = botapi.user(2003)
    assert "Seluruh anggota KK" in (await link_with_consent(user, kind="kk")).text

    user.send_text("/pengingat")
    listing = await user.next_message()
    assert "(4 orang)" in listing.text
    for name in ("Budi Santoso", "Sri Wahyuni", "Dewi Santoso", "Adi Santoso"):
        assert name in listing.text
    assert PEOPLE["recorded"].kk not in listing.text
    user.press(listing, data_of(listing, "rem:t:"))
    toggled = await user.next_message()
    assert "pengingat mati" in toggled.text
    assert (await links_in_db(settings))[0][3] == 0

    user.send_text("/hapus_data")
    confirm = await user.next_message()
    user.press(confirm, "erase:yes")
    assert "sudah dihapus" in (await user.next_message()).text
    assert await links_in_db(settings) == []
    user.send_text("/pengingat")
    assert "Belum ada NIK" in (await user.next_message()).text


async def test_pressing_consent_twice_links_once(botapi, settings):
    user = botapi.user(2004)
    status = await verified_status(user)
    user.press(status, data_of(status, "link:nik:"))
    consent = await user.next_message()
    data = data_of(consent, "consent:nik:")
    user.press(consent, data)
    await user.next_message()
    user.press(consent, data, raw=True)  # the same button again, from the old message
    again = await user.next_message()
    assert "Pilihan ini sudah tidak berlaku" in again.text
    assert len(await links_in_db(settings)) == 1


async def test_unlink_removes_only_that_link(botapi, settings):
    user = botapi.user(2005)
    for who in ("turning17", "child"):
        await link_with_consent(user, who)
    user.send_text("/pengingat")
    listing = await user.next_message()
    user.press(listing, data_of(listing, "rem:d:"))
    await user.next_message()
    assert [row[2] for row in await links_in_db(settings)] == [PEOPLE["child"].nik]


async def test_another_chats_link_cannot_be_touched(botapi, settings):
    owner = botapi.user(2006)
    await link_with_consent(owner)
    assert len(await links_in_db(settings)) == 1
    stranger = botapi.user(2007)
    stranger.send_text("/start")
    menu = await stranger.next_message()
    stranger.press(menu, "rem:d:1", raw=True)
    assert "tidak berlaku" in (await stranger.next_message()).text
    assert len(await links_in_db(settings)) == 1


async def test_language_switch_changes_every_later_reply(botapi):
    user = botapi.user(2008)
    user.send_text("/bahasa")
    choose = await user.next_message()
    user.press(choose, "lang:en")
    assert "Language set to" in (await user.next_message()).text
    user.send_text("/start")
    assert "Welcome" in (await user.next_message()).text
    person = PEOPLE["deactivated"]
    user.send_text(f"/cek {person.nik} {person.kk}")
    answer = await user.next_message()
    assert "DEACTIVATED" in answer.text
    assert "How to re-activate" in answer.text
    user.send_text("/cek 12345")
    assert "you typed 5" in (await user.next_message()).text
    user.send_text("/bantuan")
    assert "Help" in (await user.next_message()).text


async def test_locations_list_and_map_pin(botapi):
    user = botapi.user(2009)
    user.send_text("/lokasi")
    listing = await user.next_message()
    assert "Senin–Kamis 08.00–14.30, Jumat 08.00–11.00 WIB" in listing.text
    assert "TLA Srengat" in listing.text
    assert "Wonodadi" in listing.text
    user.press(listing, "loc:kanigoro")
    venue = await user.next_message()
    assert venue.method == "sendVenue"
    assert venue.raw["title"] == "Kantor Dispendukcapil Kabupaten Blitar"


async def test_link_button_expires_after_fifteen_minutes(botapi, settings, clock):
    from datetime import timedelta

    user = botapi.user(2010)
    status = await verified_status(user)
    clock.advance(timedelta(minutes=16))
    user.press(status, data_of(status, "link:nik:"))
    assert "tidak berlaku" in (await user.next_message()).text
    assert await links_in_db(settings) == []
