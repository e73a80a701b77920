"""A village population for the /rekap and /siaran tests: residents of Kecamatan Kanigoro (the
test official's area 35.05.10) and of Kecamatan Talun outside it, and the chats linked to them.

Today is Tue 24 Nov 2026: the cycle in force has cohort 31 Dec 2026, so the teens turning 17
this year were born in 2009 and adults were born on or before 24 Nov 2009.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import aiosqlite

from bot.db import transaction, vault_of
from bot.nik import make_nik
from bot.services.importer import import_residents
from bot.storage import chats, links
from bot.storage import outbox as outbox_store
from tests.conftest import KK_LESTARI, KK_SANTOSO, NOW, PEOPLE, Person, write_population

KANIGORO_2 = "35.05.10.2002"  # Jatinom, another desa of the official's kecamatan
KK_WATI = "3505100303950003"
KK_BAYU = "3505100404960004"
KK_OUTSIDE = "3505030505970005"


def _resident(
    nama, born, sex, kk, serial, *, desa=KANIGORO_2, rekam="", status="AKTIF", kawin="BELUM KAWIN"
):
    nik = make_nik(desa.replace(".", "")[:6], born, sex, serial)
    return Person(nik, kk, nama, born, sex, kawin, desa, rekam, status)


EXTRA = {
    "wati": _resident("Wati Rahayu", date(1995, 3, 3), "P", KK_WATI, 11, kawin="KAWIN"),
    "joko": _resident("Joko Widodo", date(1990, 4, 4), "L", KK_WATI, 12, status="NONAKTIF"),
    "teen_recorded": _resident("Tono", date(2009, 3, 1), "L", KK_WATI, 13, rekam="2026-04-01"),
    "siti": _resident("Siti Aminah", date(1999, 5, 5), "P", KK_BAYU, 14),
    "bayu": _resident("=Bayu", date(1992, 6, 6), "L", KK_BAYU, 15, status="NONAKTIF"),
    "teen2": _resident("Lia", date(2009, 6, 10), "P", KK_BAYU, 16),
    "outsider": _resident(
        "Orang Talun", date(1998, 7, 7), "L", KK_OUTSIDE, 17, desa="35.05.03.2001"
    ),
}
EVERYONE = {**PEOPLE, **EXTRA}

# chat id -> (locale, [(link kind, subject, reminders on)])
CHATS = {
    101: ("id", [("household", KK_SANTOSO, True)]),
    102: ("id", [("nik", PEOPLE["turning17"].nik, True), ("household", KK_SANTOSO, True)]),
    103: ("id", [("nik", EXTRA["wati"].nik, False)]),
    104: ("en", [("nik", EXTRA["joko"].nik, True)]),
    105: ("id", [("nik", PEOPLE["unrecorded"].nik, True)]),  # outside the official's area
    106: ("id", [("household", KK_LESTARI, True)]),  # outside the official's area
    107: ("id", [("nik", EXTRA["teen_recorded"].nik, True)]),  # blocked the bot
    108: ("id", [("nik", EXTRA["wati"].nik, True)]),
}
BLOCKED = (107,)

# who each audience of the official (Kanigoro) reaches, and the admin's whole regency
OFFICIAL_AUDIENCES = {
    "linked": {101, 102, 104, 108},
    "unrecorded": {108},  # Wati; Siti has no link; Joko is deactivated, not 'unrecorded'
    "turning17": {101, 102},  # Dewi (Lia has no link; Tono has recorded)
    "deactivated": {104},  # Joko (Bayu has no link)
}
REGENCY_LINKED = {101, 102, 104, 105, 106, 108}
# the official's outreach list: in a group, and no link with reminders on to an open chat
OUTREACH = {
    "teen_recorded": None,  # recorded: not in any outreach group
    "siti": "unrecorded",
    "bayu": "deactivated",
    "teen2": "turning17",
}


async def plant(db: aiosqlite.Connection, tmp_path: Path, *, with_chats: bool = True) -> None:
    """Import EVERYONE and create the chats, links and blocked chats of CHATS."""
    csv_path = write_population(tmp_path / "village.csv", EVERYONE.values())
    report = await import_residents(db, csv_path, now=NOW)
    assert report.rejected == []
    if with_chats:
        await link_chats(db)


async def link_chats(db: aiosqlite.Connection) -> None:
    """The CHATS with their links; BLOCKED chats recorded as having blocked the bot."""
    async with transaction(db):
        for chat_id, (locale, chat_links) in CHATS.items():
            await chats.set_locale(db, chat_id, locale, now=NOW)
            for kind, subject, on in chat_links:
                await links.insert_link(db, chat_id, kind, subject, now=NOW)
                if not on:
                    await db.execute(
                        "UPDATE links SET reminders_on = 0 WHERE chat_id = ? AND subject_ref = ?",
                        (chat_id, vault_of(db).ref(subject)),
                    )
        for chat_id in BLOCKED:
            await outbox_store.block_chat(db, chat_id, now=NOW)
