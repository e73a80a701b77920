"""The daily digest: each point's numbers for its staff, the regency's for the admins."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.config import Settings
from bot.db import transaction, vault_of
from bot.jobs.registry import job_spec, run_planner
from bot.nik import make_nik
from bot.rendering import Renderer
from bot.services import digest
from bot.services.importer import import_residents
from bot.services.roles import add_user
from bot.storage import bookings, chats, closures, point_settings, tickets
from bot.storage.service_points import get_service_point, seed_service_points
from tests.conftest import NOW, SECRET_KEY, Person, write_population
from tests.desk import db_of_each_engine

__all__ = ["db_of_each_engine"]  # the fixture: `db` is each engine's in turn here

TODAY, YESTERDAY = date(2026, 11, 24), date(2026, 11, 23)  # Tuesday, Monday
AT_SEVEN = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 07:00 WIB
SETTINGS = Settings.from_env({"BOT_TOKEN": "1:x", "SECRET_KEY": SECRET_KEY})
STAFF_KANIGORO, STAFF_KANIGORO_2, STAFF_WLINGI, STAFF_SRENGAT = 9001, 9007, 9005, 9006
OFFICIAL, ADMIN, SRENGAT_GROUP = 9002, 9003, -100777


def _resident(key: str, born: date, serial: int, rekam: str = "") -> tuple[str, Person]:
    nik = make_nik("350510", born, "L", serial)
    kk = f"35051001010800{serial:02d}"
    return key, Person(nik, kk, key, born, "L", "BELUM KAWIN", "35.05.10.2001", rekam, "AKTIF")


RESIDENTS = dict(
    [
        # turning 17 in 2026 (the cycle in force: cohort 31 December 2026): 1 of 4 recorded
        _resident("t1", date(2009, 3, 1), 1, rekam="2026-11-23"),
        _resident("t2", date(2009, 3, 2), 2),
        _resident("t3", date(2009, 3, 3), 3),
        _resident("t4", date(2009, 3, 4), 4),
        _resident("a1", date(1990, 1, 1), 11, rekam="2026-11-23"),
        _resident("a2", date(1990, 1, 2), 12, rekam="2026-11-23"),
        _resident("a3", date(1990, 1, 3), 13, rekam="2026-11-20"),
        *[_resident(f"a{i}", date(1990, 1, i), 10 + i) for i in range(4, 11)],
    ]
)
# (resident, service, point, day, state)
BOOKINGS = [
    ("a1", "rekam", "kanigoro", YESTERDAY, "recorded"),
    ("a2", "rekam", "kanigoro", YESTERDAY, "recorded"),
    ("a3", "rusak", "kanigoro", YESTERDAY, "handed_over"),
    ("a4", "rekam", "kanigoro", YESTERDAY, "no_show"),
    ("a5", "rekam", "kanigoro", YESTERDAY, "no_show"),
    ("a6", "rekam", "kanigoro", YESTERDAY, "cancelled"),
    ("a7", "rekam", "kanigoro", TODAY, "pending"),
    ("a8", "rekam", "kanigoro", TODAY, "pending"),
    ("a9", "rekam", "kanigoro", TODAY, "confirmed"),
    ("a10", "rekam", "tla-wlingi", YESTERDAY, "recorded"),
    ("t2", "rekam", "tla-wlingi", TODAY, "pending"),
    ("t3", "rekam", "tla-srengat", YESTERDAY, "no_show"),
    ("a4", "rekam", "kanigoro", date(2026, 11, 20), "no_show"),  # last week: not counted
]
# (resident, point, steps after 'reported')
TICKETS = [
    ("t4", "kanigoro", ()),
    ("a7", "kanigoro", ("verified", "printed", "ready")),
    ("a8", "kanigoro", ("verified", "printed", "ready", "handed_over")),
    ("a9", "tla-wlingi", ("verified",)),
]


@pytest.fixture
async def office(db, tmp_path):
    """Residents, a day of bookings and tickets, staff at three points, an official, an admin."""
    await seed_service_points(db)
    path = write_population(tmp_path / "siak.csv", RESIDENTS.values())
    assert (await import_residents(db, path, now=NOW)).rejected == []
    for telegram_id, point in (
        (STAFF_KANIGORO, "kanigoro"),
        (STAFF_KANIGORO_2, "kanigoro"),
        (STAFF_WLINGI, "tla-wlingi"),
        (STAFF_SRENGAT, "tla-srengat"),
    ):
        await add_user(db, telegram_id, "staff", service_point=point, area=None, now=NOW)
    await add_user(db, OFFICIAL, "official", service_point=None, area="35.05.10", now=NOW)
    await add_user(db, ADMIN, "admin", service_point=None, area=None, now=NOW)
    async with transaction(db):  # a ticket's insert takes a savepoint: inside a transaction
        await point_settings.set_staff_chat(db, "tla-srengat", SRENGAT_GROUP)
        for number, (who, service, point, day, state) in enumerate(BOOKINGS, start=1):
            start = datetime.combine(day, time(1, 0), tzinfo=UTC)  # 08:00 WIB
            await bookings.insert_booking(
                db,
                code=f"CODE{number:02d}",
                chat_id=700,
                nik=RESIDENTS[who].nik,
                service=service,
                service_point=point,
                start_at=start,
                day=day,
                queue_number=number,
                state=state,
                now=NOW - timedelta(days=7),
            )
        for number, (who, point, steps) in enumerate(TICKETS, start=1):
            ticket = await tickets.insert_ticket(
                db,
                number=f"KR-{number:05d}",
                chat_id=700,
                nik=RESIDENTS[who].nik,
                kind="damaged",
                cause="peeling",
                description=None,
                file_id=None,
                file_type=None,
                service_point=point,
                now=NOW - timedelta(days=7),
            )
            for step in steps:
                await db.execute("UPDATE tickets SET state = ? WHERE id = ?", (step, ticket.id))
    return db


async def _digest_job(db, day=TODAY, now=AT_SEVEN):
    return await run_planner(
        job_spec("daily-digest"),
        time(7, 0),
        db=db,
        renderer=Renderer(),
        settings=SETTINGS,
        day=day,
        now=now,
    )


async def _planned(db) -> dict[int, tuple[str, str, str]]:
    rows = await db.execute_fetchall("SELECT chat_id, idempotency_key, kind, text FROM outbox")
    vault = vault_of(db)  # opened here: PostgreSQL has no unseal()
    return {
        chat: (key, kind, vault.open(text, "outbox.text", chat)) for chat, key, kind, text in rows
    }


async def test_a_point_digest_counts_its_own_bookings_and_tickets(office):
    point = await get_service_point(office, "kanigoro")
    found = await digest.point_digest(office, point, day=TODAY)
    assert (found.yesterday.served, found.yesterday.count("no_show")) == (3, 2)
    assert found.yesterday.count("recorded", "handed_over", "no_show", "cancelled") == 6
    assert (found.today.count("pending"), found.today.count("confirmed")) == (2, 1)
    assert (found.tickets_open, found.tickets_ready) == (2, 1)


async def test_the_regency_digest(office):
    found = await digest.regency_digest(office, day=TODAY)
    assert found.yesterday.count() == 8
    assert (found.yesterday.served, found.yesterday.count("no_show")) == (4, 3)
    assert found.today.count("pending", "confirmed") == 4
    assert found.recordings == 3  # t1, a1, a2 recorded on 23 November
    assert found.tickets == {"reported": 1, "verified": 1, "ready": 1, "handed_over": 1}
    assert (found.teens.year, found.teens.total, found.teens.recorded) == (2026, 4, 1)
    assert found.teens.percent == 25.0


async def test_staff_chats_get_their_points_digest(office):
    await chats.set_locale(office, STAFF_WLINGI, "en", now=NOW)
    assert await _digest_job(office) == 5
    planned = await _planned(office)
    assert set(planned) == {STAFF_KANIGORO, STAFF_KANIGORO_2, STAFF_WLINGI, SRENGAT_GROUP, ADMIN}
    assert all(kind == "staff" for _, kind, _ in planned.values())
    assert planned[STAFF_KANIGORO][0] == f"digest:2026-11-24:{STAFF_KANIGORO}"
    kanigoro = planned[STAFF_KANIGORO][2]
    assert "Selasa, 24 November 2026" in kanigoro
    assert "Kantor Dispendukcapil Kabupaten Blitar" in kanigoro
    assert "dilayani <b>3</b> (perekaman 2, KTP diserahkan 1)" in kanigoro
    assert "tidak hadir <b>2</b>, batal/ditolak 1\nHari ini: " in kanigoro
    assert "<b>3</b> antrean (menunggu konfirmasi 2, dikonfirmasi 1)" in kanigoro
    assert "terbuka: 2, siap diambil: 1" in kanigoro
    assert "TLA" not in kanigoro
    wlingi = planned[STAFF_WLINGI][2]
    assert "Morning digest" in wlingi
    assert "TLA Wlingi" in wlingi
    assert "served <b>1</b>" in wlingi
    assert "open: 1, ready for pick-up: 0" in wlingi
    srengat = planned[SRENGAT_GROUP][2]  # the group, not the staff member, gets Srengat's
    assert "TLA Srengat" in srengat
    assert "tidak hadir <b>1</b>" in srengat


async def test_admins_get_the_regency_digest(office):
    await _digest_job(office)
    text = (await _planned(office))[ADMIN][2]
    assert "Kabupaten Blitar, Selasa, 24 November 2026" in text
    assert "8 antrean; dilayani 4, tidak hadir <b>3</b>, batal/ditolak 1" in text
    assert "Perekaman e-KTP tercatat kemarin: <b>3</b>" in text
    assert "4 antrean (menunggu konfirmasi 3, dikonfirmasi 1)" in text
    assert "dilaporkan 1, diverifikasi 1, siap diambil 1, diserahkan 1\n" in text
    assert "sudah rekam 1 dari 4 (<b>25,0 %</b>)\n" in text
    assert not any(r.nik in text for r in RESIDENTS.values())


async def test_the_digest_is_planned_once_a_day(office):
    assert await _digest_job(office) == 5
    assert await _digest_job(office, now=AT_SEVEN + timedelta(hours=1)) == 0
    tomorrow = TODAY + timedelta(days=1)
    assert await _digest_job(office, day=tomorrow, now=AT_SEVEN + timedelta(days=1)) == 5


async def test_nobody_to_tell_plans_nothing(db):
    await seed_service_points(db)
    assert await _digest_job(db) == 0
    assert await _planned(db) == {}


async def test_the_teen_rate_with_no_teens_is_not_a_number(db):
    found = await digest.regency_digest(db, day=TODAY)
    assert found.teens.total == 0
    assert found.teens.percent is None


async def test_a_group_serving_two_points_gets_both_in_one_message(office):
    await point_settings.set_staff_chat(office, "kanigoro", SRENGAT_GROUP)
    assert await _digest_job(office) == 3  # the group, Wlingi's staff member, the admin
    text = (await _planned(office))[SRENGAT_GROUP][2]
    assert "Kantor Dispendukcapil Kabupaten Blitar" in text
    assert "TLA Srengat" in text


SATURDAY, SUNDAY, MONDAY = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)
CHRISTMAS = date(2026, 12, 25)  # a Friday, a public holiday


def _seven_wib(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@pytest.mark.parametrize("day", [SATURDAY, SUNDAY, CHRISTMAS], ids=str)
async def test_no_digest_on_a_day_the_office_is_closed(office, day):
    assert await _digest_job(office, day=day, now=_seven_wib(day)) == 0
    assert await _planned(office) == {}


async def test_a_chat_gets_only_its_open_points(office):
    await point_settings.set_staff_chat(office, "kanigoro", SRENGAT_GROUP)
    await closures.insert_closure(
        office,
        service_point="tla-srengat",
        first_day=TODAY,
        last_day=TODAY,
        reason="genset",
        created_by=ADMIN,
        now=NOW,
    )
    await _digest_job(office)
    text = (await _planned(office))[SRENGAT_GROUP][2]
    assert "Kantor Dispendukcapil Kabupaten Blitar" in text
    assert "TLA Srengat" not in text


async def test_monday_reports_fridays_visits(office):
    friday = date(2026, 11, 27)
    await bookings.insert_booking(
        office,
        code="FRI001",
        chat_id=700,
        nik=RESIDENTS["a10"].nik,
        service="rekam",
        service_point="tla-wlingi",
        start_at=datetime.combine(friday, time(1, 0), tzinfo=UTC),
        day=friday,
        queue_number=1,
        state="recorded",
        now=NOW,
    )
    assert await _digest_job(office, day=MONDAY, now=_seven_wib(MONDAY)) > 0
    wlingi = (await _planned(office))[STAFF_WLINGI][2]
    assert "Jumat, 27 November 2026: dilayani <b>1</b>" in wlingi
    point = await get_service_point(office, "tla-wlingi")
    assert (await digest.point_digest(office, point, day=MONDAY)).last_day == friday
    regency = await digest.regency_digest(office, day=MONDAY)
    assert (regency.last_day, regency.yesterday.served) == (friday, 1)


async def test_empty_sections_are_left_out(office):
    await _digest_job(office)
    planned = await _planned(office)
    srengat = planned[SRENGAT_GROUP][2]  # one no-show yesterday, nothing today, no tickets
    assert "tidak hadir <b>1</b>" in srengat
    assert "Hari ini" not in srengat
    assert "Tiket" not in srengat
    wlingi = planned[STAFF_WLINGI][2]  # served yesterday, one booking today, one open ticket
    assert "Hari ini: <b>1</b> antrean" in wlingi
    assert "siap diambil: 0" in wlingi


async def test_an_idle_point_is_left_out_of_its_chats_digest(office):
    await point_settings.set_staff_chat(office, "tla-srengat", None)
    await point_settings.set_staff_chat(office, "kanigoro", SRENGAT_GROUP)
    await point_settings.set_staff_chat(office, "kec-kademangan", SRENGAT_GROUP)
    await _digest_job(office)
    text = (await _planned(office))[SRENGAT_GROUP][2]
    assert "Kantor Dispendukcapil Kabupaten Blitar" in text
    assert "Kademangan" not in text


async def test_all_zero_says_nothing_new_in_one_line(db):
    await seed_service_points(db)
    await add_user(db, STAFF_KANIGORO, "staff", service_point="kanigoro", area=None, now=NOW)
    await add_user(db, ADMIN, "admin", service_point=None, area=None, now=NOW)
    await chats.set_locale(db, ADMIN, "en", now=NOW)
    assert await _digest_job(db) == 2
    planned = await _planned(db)
    assert planned[STAFF_KANIGORO][2].strip() == (
        "<b>Ringkasan pagi, Selasa, 24 November 2026</b>:"
        " tidak ada yang baru di Kantor Dispendukcapil Kabupaten Blitar."
    )
    assert planned[ADMIN][2].strip() == (
        "<b>Morning digest for Kabupaten Blitar, Tuesday, 24 November 2026</b>: nothing new."
    )
