"""A chat's links to a resident (NIK) or a household (KK) on both engines: the subject read back
from the residents it names, reminders switched off and on, another chat's link not found, and
unlinking with what it withdraws (bot/services/links.py, bot/storage/links.py)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.db import vault_of
from bot.places import Place
from bot.services import elsewhere, outbox
from bot.services.importer import import_residents
from bot.services.links import LinkNotFound, chat_links, link_chat, toggle_reminders, unlink
from bot.storage import chats, links
from bot.storage.areas import sync_areas
from bot.storage.elsewhere import list_reports
from bot.storage.outbox import get_message_by_key
from bot.storage.residents import get_resident
from tests.conftest import NOW, PEOPLE, write_population

CHAT = 4242
TEEN, RUDI = PEOPLE["turning17"], PEOPLE["unrecorded"]
SANTOSO = ["recorded", "mother", "turning17", "child"]  # one KK, in the population's order
SURABAYA = Place("regency", "35.78")
DUE = date(2026, 12, 15)  # the teen's 17th birthday: her reminder's day


@pytest.fixture
async def db(engine_db, tmp_path):
    """Each engine in turn, with the planted residents."""
    await sync_areas(engine_db)
    report = await import_residents(engine_db, write_population(tmp_path / "p.csv"), now=NOW)
    assert report.rejected == []
    return engine_db


async def test_links_by_nik_and_by_household_read_back_their_subjects(db):
    teen, rudi = await get_resident(db, TEEN.nik), await get_resident(db, RUDI.nik)
    assert await link_chat(db, CHAT, teen, household=True, now=NOW)
    assert await link_chat(db, CHAT, rudi, household=False, now=NOW)
    assert not await link_chat(db, CHAT, rudi, household=False, now=NOW)  # already there
    household, person = await chat_links(db, CHAT)
    assert (household.link.kind, household.link.subject) == ("household", TEEN.kk)
    assert sorted(p.nik for p in household.people) == sorted(PEOPLE[w].nik for w in SANTOSO)
    assert (person.link.kind, person.link.subject, person.people) == ("nik", RUDI.nik, [rudi])
    assert await links.get_link(db, person.link.id, CHAT) == person.link
    assert await links.get_link(db, person.link.id, CHAT + 1) is None  # another chat's


async def test_reminders_switched_off_and_on_again(db):
    await link_chat(db, CHAT, await get_resident(db, RUDI.nik), household=False, now=NOW)
    ((view),) = await chat_links(db, CHAT)
    assert view.link.reminders_on
    assert not await toggle_reminders(db, CHAT, view.link.id, now=NOW)
    assert await toggle_reminders(db, CHAT, view.link.id, now=NOW)
    with pytest.raises(LinkNotFound):
        await toggle_reminders(db, CHAT + 1, view.link.id, now=NOW)
    await links.set_reminders(db, view.link.id, on=False)
    await link_chat(db, CHAT, await get_resident(db, RUDI.nik), household=False, now=NOW)
    assert (await links.get_link(db, view.link.id, CHAT)).reminders_on  # linked again: on


async def test_a_subject_gone_from_the_population_reads_empty(db):
    await chats.ensure_chat(db, CHAT, locale="id", now=NOW)
    await links.insert_link(db, CHAT, "nik", "3505100000000001", now=NOW)
    await links.insert_link(db, CHAT, "household", "3505100000000002", now=NOW)
    assert [(link.kind, link.subject) for link in await links.list_links(db, CHAT)] == [
        ("nik", ""),
        ("household", ""),
    ]


async def test_unlinking_withdraws_its_reminders_and_reports(db):
    teen = await get_resident(db, TEEN.nik)
    await link_chat(db, CHAT, teen, household=True, now=NOW)
    about = ("teen", vault_of(db).ref(TEEN.nik), CHAT, DUE)
    key = outbox.reminder_key(vault_of(db), *about)
    plan = outbox.reminder_plan(*about)
    await outbox.enqueue(db, key=key, chat_id=CHAT, kind="reminder", text="Hai", now=NOW, plan=plan)
    await elsewhere.report(
        db, CHAT, TEEN.nik, SURABAYA, since=date(2026, 7, 1), reason="study", today=DUE, now=NOW
    )
    ((view),) = await chat_links(db, CHAT)
    await unlink(db, CHAT, view.link.id, now=NOW)
    assert await chat_links(db, CHAT) == []
    assert (await get_message_by_key(db, key)).state == "withdrawn"
    assert await list_reports(db, CHAT) == []
    with pytest.raises(LinkNotFound):
        await unlink(db, CHAT, view.link.id, now=NOW)
