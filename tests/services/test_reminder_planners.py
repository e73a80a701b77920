"""The reminder planners against a small planted population: who gets what, on which day, on
both engines."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from telegram import Bot

from bot.config import Settings
from bot.db import transaction, vault_of
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.jobs.sender import send_due
from bot.nik import make_nik
from bot.rendering import Renderer
from bot.services import booking as booking_service
from bot.services import outbox
from bot.services.links import link_chat
from bot.services.schedule import free_slots
from bot.storage import chats
from bot.storage import reminders as reminder_store
from bot.storage.residents import get_resident, upsert_residents
from bot.storage.service_points import get_service_point, seed_service_points
from tests.conftest import SECRET_KEY, TOKEN

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
KK_A, KK_B, KK_C = "3505100101080001", "3505030202100002", "3505030303100003"
DESA_A, DESA_B = "3505102001", "3505032001"


def _row(name, born, sex, serial, *, kk, kawin="BELUM KAWIN", rekam=None, status="AKTIF"):
    desa = DESA_A if kk == KK_A else DESA_B
    nik = make_nik(desa[:6], born, sex, serial)
    return (nik, kk, name, born.isoformat(), sex, kawin, desa, rekam, status)


ROWS = {
    "teen": _row("Dewi Santoso", date(2009, 12, 15), "P", 3, kk=KK_A),  # 17 on 15 Dec 2026
    "father": _row(
        "Budi Santoso", date(1980, 5, 12), "L", 1, kk=KK_A, kawin="KAWIN", rekam="2013-03-01"
    ),
    "child": _row("Adi Santoso", date(2014, 6, 1), "L", 4, kk=KK_A),
    "adult": _row("Rudi Lestari", date(2000, 2, 10), "L", 5, kk=KK_B),  # never recorded
    "deactivated": _row("Ani Lestari", date(2006, 3, 3), "P", 6, kk=KK_B, status="NONAKTIF"),
    "bride": _row("Sari Wulandari", date(2010, 3, 1), "P", 7, kk=KK_C, kawin="KAWIN"),  # 16
}
NIK = {key: row[0] for key, row in ROWS.items()}
NAME = {key: row[2] for key, row in ROWS.items()}
DEACTIVATED_ON = date(2027, 5, 3)

# Chats and what they linked: by NIK, by household (KK), both, or with reminders off.
TEEN_NIK, TEEN_HOUSEHOLD, TEEN_BOTH, TEEN_OFF, HOUSEHOLD_B, BRIDE = 701, 702, 703, 704, 705, 706
TEEN_CHATS = {TEEN_NIK, TEEN_HOUSEHOLD, TEEN_BOTH}


@pytest.fixture
async def world(engine_areas, tmp_path):
    """The planted world on each engine in turn."""
    return await _plant(engine_areas, tmp_path)


async def _set_resident(db, who, assignments, *values):
    """UPDATE one planted resident (found by their NIK's lookup hash)."""
    async with transaction(db):
        await db.execute(
            f"UPDATE residents SET {assignments} WHERE nik_ref = ?",
            (*values, vault_of(db).ref(NIK[who])),
        )


async def _plant(db, tmp_path):
    """The planted residents, service points and linked chats; returns (db, renderer, settings)."""
    await seed_service_points(db)
    async with transaction(db):
        await upsert_residents(db, list(ROWS.values()), now=NOW)
    await _set_resident(db, "deactivated", "deactivated_on = ?", DEACTIVATED_ON.isoformat())
    teen = await get_resident(db, NIK["teen"])
    await link_chat(db, TEEN_NIK, teen, household=False, now=NOW)
    await link_chat(db, TEEN_HOUSEHOLD, teen, household=True, now=NOW)
    await link_chat(db, TEEN_BOTH, teen, household=False, now=NOW)
    await link_chat(db, TEEN_BOTH, teen, household=True, now=NOW)
    await link_chat(db, TEEN_OFF, teen, household=False, now=NOW)
    async with transaction(db):
        await db.execute("UPDATE links SET reminders_on = 0 WHERE chat_id = ?", (TEEN_OFF,))
    adult = await get_resident(db, NIK["adult"])
    await link_chat(db, HOUSEHOLD_B, adult, household=True, now=NOW)
    await link_chat(db, BRIDE, await get_resident(db, NIK["bride"]), household=False, now=NOW)
    async with transaction(db):
        await chats.set_locale(db, TEEN_HOUSEHOLD, "en", now=NOW)
    settings = Settings.from_env(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "x.sqlite3"), "SECRET_KEY": SECRET_KEY}
    )
    return db, Renderer(), settings


async def plan(world, job, day, *, at=None, now=None):
    """Run one job's planner for `day` (at its scheduled time unless told)."""
    db, renderer, settings = world
    spec = job_spec(job)
    at = at or spec.times[0]
    moment = now or scheduled_at(day, at)
    return await run_planner(
        spec, at, db=db, renderer=renderer, settings=settings, day=day, now=moment
    )


async def outbox_rows(db, prefix=""):
    """Every outbox message (key, chat, kind, text, buttons, not_before, state) in key order."""
    vault = vault_of(db)
    rows = [
        (key, chat, kind, vault.open(text, "outbox.text", chat), markup, not_before, state,
         vault.open(plan, "outbox.plan", key) if plan else None)
        for key, chat, kind, text, markup, not_before, state, plan in await db.execute_fetchall(
            "SELECT idempotency_key, chat_id, kind, text, reply_markup, not_before, state, plan"
            " FROM outbox WHERE idempotency_key LIKE ? ORDER BY idempotency_key",
            (f"{prefix}%",),
        )
    ]  # fmt: skip
    return [
        {
            "key": key,
            "chat": chat,
            "kind": kind,
            "text": text,
            "state": state,
            "buttons": [
                b["callback_data"] for row in json.loads(markup)["inline_keyboard"] for b in row
            ]
            if markup
            else [],
            "not_before": datetime.fromisoformat(not_before),
            "due": plan.rsplit(":", 1)[1] if plan else None,  # a resident's reminder's due day
        }
        for key, chat, kind, text, markup, not_before, state, plan in rows
    ]


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def plan_days(world, job, first, last):
    """Plan every day in turn; return {day: the new messages' (chat, key, text)}."""
    db = world[0]
    seen: set[str] = set()
    planned = {}
    for day in days(first, last):
        await plan(world, job, day)
        new = [row for row in await outbox_rows(db) if row["key"] not in seen]
        seen.update(row["key"] for row in new)
        if new:
            planned[day] = new
    return planned


def chats_of(rows):
    return sorted(row["chat"] for row in rows)


# --- teens turning 17 ---


async def test_teens_are_reminded_before_on_and_monthly_after_their_17th_birthday(world):
    planned = await plan_days(world, "teen-reminders", date(2026, 11, 1), date(2027, 2, 20))

    assert sorted(planned) == [
        date(2026, 11, 15),
        date(2026, 12, 15),
        date(2027, 1, 15),
        date(2027, 2, 15),
    ]
    for rows in planned.values():
        assert chats_of(rows) == sorted(TEEN_CHATS)  # one each; never the chat that switched off
        for row in rows:
            assert row["kind"] == "reminder"
            assert NAME["teen"] in row["text"]
            assert NIK["teen"] not in row["text"]
            assert NIK["teen"] not in row["key"]
            assert row["buttons"] == ["bk:start:rekam"]
            assert "30 April 2027" in row["text"]
    by_chat = {row["chat"]: row["text"] for row in planned[date(2026, 11, 15)]}
    assert "usia Anda 17 tahun" in by_chat[TEEN_NIK]
    assert "gratis" in by_chat[TEEN_NIK]
    assert "you turn 17" in by_chat[TEEN_HOUSEHOLD]  # the household chat reads English
    birthday = {row["chat"]: row["text"] for row in planned[date(2026, 12, 15)]}
    assert "Selamat ulang tahun ke-17" in birthday[TEEN_BOTH]
    assert "136 hari lagi" in birthday[TEEN_BOTH]  # 15 Dec 2026 -> 30 Apr 2027


async def test_teens_get_the_countdown_and_nothing_after_their_deadline(world):
    planned = await plan_days(world, "teen-reminders", date(2027, 3, 28), date(2027, 5, 20))

    assert sorted(planned) == [
        date(2027, 3, 31),
        date(2027, 4, 15),
        date(2027, 4, 16),
        date(2027, 4, 23),
        date(2027, 4, 27),
        date(2027, 4, 29),
    ]
    last = {row["chat"]: row["text"] for row in planned[date(2027, 4, 29)]}
    assert "besok" in last[TEEN_NIK]
    assert "tomorrow" in last[TEEN_HOUSEHOLD]


async def test_a_recorded_teen_is_reminded_no_more(world):
    db = world[0]
    assert await plan(world, "teen-reminders", date(2026, 12, 15)) == 3
    await _set_resident(db, "teen", "tanggal_rekam = '2026-12-20'")
    assert await plan(world, "teen-reminders", date(2027, 1, 15)) == 0


async def test_planning_a_day_twice_queues_each_reminder_once(world):
    db = world[0]
    assert await plan(world, "teen-reminders", date(2026, 11, 15)) == 3
    assert await plan(world, "teen-reminders", date(2026, 11, 15)) == 0
    assert len(await outbox_rows(db)) == 3


# --- the deadline countdown ---


async def test_unrecorded_wajib_ktp_residents_get_the_countdown_but_never_with_a_teen_reminder(
    world,
):
    deadline = await plan_days(world, "deadline-reminders", date(2027, 3, 1), date(2027, 5, 10))
    countdown = [
        date(2027, 3, 31),
        date(2027, 4, 16),
        date(2027, 4, 23),
        date(2027, 4, 27),
        date(2027, 4, 29),
    ]

    assert sorted(deadline) == countdown
    for day, rows in deadline.items():
        # The unrecorded adult (by household) and the married 16-year-old; not the teen (the
        # teen rule has her), not the deactivated sister, not the recorded father or the child.
        assert chats_of(rows) == [HOUSEHOLD_B, BRIDE]
        named = {row["chat"]: row["text"] for row in rows}
        assert NAME["adult"] in named[HOUSEHOLD_B]
        assert NAME["deactivated"] not in named[HOUSEHOLD_B]
        assert NAME["bride"] in named[BRIDE]
        left = (date(2027, 4, 30) - day).days
        assert (f"{left} hari lagi" if left > 1 else "besok") in named[BRIDE]
        assert "30 April 2027" in named[BRIDE]
        assert all(row["buttons"] == ["bk:start:rekam"] for row in rows)
    teen = await plan_days(world, "teen-reminders", date(2027, 3, 1), date(2027, 5, 10))
    for day in countdown:
        assert {row["chat"] for row in teen[day]} == TEEN_CHATS
        assert not {row["chat"] for row in teen[day]} & {row["chat"] for row in deadline[day]}


# --- deactivated NIKs ---


async def test_deactivated_residents_are_reminded_on_the_day_and_every_30_days(world):
    db = world[0]
    planned = await plan_days(world, "deactivated-reminders", date(2027, 5, 1), date(2027, 7, 1))

    assert sorted(planned) == [date(2027, 5, 3), date(2027, 6, 2)]
    for rows in planned.values():
        assert chats_of(rows) == [HOUSEHOLD_B]
        (row,) = rows
        assert NAME["deactivated"] in row["text"]
        assert "bansos" in row["text"]
        assert "Gratis" in row["text"]
        assert row["buttons"] == ["bk:start:rekam"]
    # Recorded (and so re-activated): no more reminders.
    await _set_resident(db, "deactivated", "tanggal_rekam = '2027-06-10', status_nik = 'AKTIF'")
    assert await plan(world, "deactivated-reminders", date(2027, 7, 2)) == 0


async def test_the_deactivation_notice_and_the_day_0_reminder_are_one_message(world):
    db = world[0]
    about = ("deactivated", vault_of(db).ref(NIK["deactivated"]), HOUSEHOLD_B, DEACTIVATED_ON)
    key = outbox.reminder_key(vault_of(db), *about)
    notice_time = scheduled_at(DEACTIVATED_ON, time(7, 45))
    assert await outbox.enqueue(
        db,
        key=key,
        chat_id=HOUSEHOLD_B,
        kind="reminder",
        text="NIK dinonaktifkan",
        now=notice_time,
        plan=outbox.reminder_plan(*about),
    )
    assert await plan(world, "deactivated-reminders", DEACTIVATED_ON) == 0
    assert [row["key"] for row in await outbox_rows(db)] == [key]


# --- missed days ---


async def test_after_missed_days_only_the_latest_due_point_is_planned_once(world):
    db = world[0]
    assert await plan(world, "teen-reminders", date(2026, 12, 10)) == 0
    # The bot was down from 11 to 16 December: the birthday reminder comes late, once,
    # under the birthday's key, written for today.
    assert await plan(world, "teen-reminders", date(2026, 12, 17)) == 3
    rows = await outbox_rows(db, "teen:")
    assert {row["due"] for row in rows} == {"2026-12-15"}
    assert all("sudah berusia 17 tahun" in r["text"] for r in rows if r["chat"] == TEEN_NIK)
    assert await plan(world, "teen-reminders", date(2026, 12, 18)) == 0

    assert await plan(world, "deadline-reminders", date(2027, 4, 20)) == 0
    assert await plan(world, "deadline-reminders", date(2027, 4, 28)) == 2  # 23 and 27 missed
    due = {row["due"] for row in await outbox_rows(db, "deadline:")}
    assert due == {"2027-04-27"}

    assert await plan(world, "deactivated-reminders", date(2027, 6, 1)) == 0
    assert await plan(world, "deactivated-reminders", date(2027, 6, 4)) == 1  # 2 June missed
    (row,) = await outbox_rows(db, "deactivated:")
    assert row["due"] == "2027-06-02"


# --- bookings ---


async def _book(db, who, day, *, chat, now, index=0):
    point = await get_service_point(db, "kanigoro")
    slot = (await free_slots(db, point, day, now=now))[index]
    return await booking_service.book(
        db,
        chat_id=chat,
        nik=NIK[who],
        service="rekam",
        point_code="kanigoro",
        start_at=slot.start_at,
        now=now,
    )


async def test_bookings_are_reminded_the_evening_before_and_asked_in_the_morning(world):
    db = world[0]
    booked_at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tue 10:00 WIB
    booking = await _book(db, "adult", date(2026, 11, 25), chat=HOUSEHOLD_B, now=booked_at)

    assert await plan(world, "booking-reminders", date(2026, 11, 24), at=time(6, 30)) == 0
    assert await plan(world, "booking-reminders", date(2026, 11, 24), at=time(16, 0)) == 1
    (eve,) = await outbox_rows(db, "booking:")
    assert eve["key"] == f"booking:{booking.id}:eve:{booking.start_at.isoformat()}"
    assert eve["kind"] == "booking"
    assert booking.code in eve["text"]
    assert f"<b>{booking.queue_number}</b>" in eve["text"]
    assert "08.00 WIB" in eve["text"]
    assert "Kartu Keluarga" in eve["text"]  # what to bring
    assert NAME["adult"] in eve["text"]

    assert await plan(world, "booking-reminders", date(2026, 11, 25), at=time(6, 30)) == 1
    morning = await outbox_rows(db, f"booking:{booking.id}:morning:")
    assert morning[0]["buttons"] == [f"bk:coming:{booking.id}", f"bk:release:{booking.id}"]
    assert "Masih akan datang?" in morning[0]["text"]
    assert morning[0]["not_before"] == scheduled_at(date(2026, 11, 25), time(6, 30))  # not held
    assert await plan(world, "booking-reminders", date(2026, 11, 25), at=time(6, 30)) == 0


async def test_a_cancelled_booking_gets_no_reminder_and_its_queued_ones_are_withdrawn(world):
    db = world[0]
    booked_at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    kept = await _book(db, "adult", date(2026, 11, 26), chat=HOUSEHOLD_B, now=booked_at)
    dropped = await _book(db, "bride", date(2026, 11, 26), chat=BRIDE, now=booked_at)
    later = await _book(db, "teen", date(2026, 11, 27), chat=TEEN_NIK, now=booked_at)
    await booking_service.cancel(db, dropped.id, chat_id=BRIDE, now=booked_at)

    assert await plan(world, "booking-reminders", date(2026, 11, 25), at=time(16, 0)) == 1
    assert [row["chat"] for row in await outbox_rows(db, "booking:")] == [HOUSEHOLD_B]
    # Planned, still queued, then cancelled: withdrawn in the same transaction.
    evening = scheduled_at(date(2026, 11, 25), time(16, 5))
    await booking_service.cancel(db, kept.id, chat_id=HOUSEHOLD_B, now=evening)
    (row,) = await outbox_rows(db, f"booking:{kept.id}:")
    assert row["state"] == "withdrawn"
    assert await plan(world, "booking-reminders", date(2026, 11, 26), at=time(6, 30)) == 0
    assert later.state in ("pending", "confirmed")  # other bookings are left alone


async def test_a_moved_booking_is_reminded_of_its_new_time_only(world):
    db = world[0]
    booked_at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    booking = await _book(db, "adult", date(2026, 11, 26), chat=HOUSEHOLD_B, now=booked_at)
    assert await plan(world, "booking-reminders", date(2026, 11, 25), at=time(16, 0)) == 1

    point = await get_service_point(db, "kanigoro")
    moved_at = scheduled_at(date(2026, 11, 25), time(16, 10))
    new_slot = (await free_slots(db, point, date(2026, 11, 30), now=moved_at))[3]
    moved = await booking_service.reschedule(
        db, booking.id, chat_id=HOUSEHOLD_B, start_at=new_slot.start_at, now=moved_at
    )
    (old,) = await outbox_rows(db, f"booking:{booking.id}:")
    assert old["state"] == "withdrawn"
    assert await plan(world, "booking-reminders", date(2026, 11, 26), at=time(6, 30)) == 0
    assert await plan(world, "booking-reminders", date(2026, 11, 29), at=time(16, 0)) == 1
    rows = await outbox_rows(db, f"booking:{booking.id}:")
    queued = [row for row in rows if row["state"] == "queued"]
    assert [row["key"] for row in queued] == [
        f"booking:{booking.id}:eve:{moved.start_at.isoformat()}"
    ]
    assert "09.30 WIB" in queued[0]["text"]


async def test_releasing_from_the_morning_question_withdraws_what_is_queued(world):
    db = world[0]
    booked_at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    booking = await _book(db, "adult", date(2026, 11, 25), chat=HOUSEHOLD_B, now=booked_at, index=4)
    assert await plan(world, "booking-reminders", date(2026, 11, 25), at=time(6, 30)) == 1
    released_at = scheduled_at(date(2026, 11, 25), time(6, 35))
    await booking_service.release(db, booking.id, chat_id=HOUSEHOLD_B, now=released_at)
    assert [row["state"] for row in await outbox_rows(db, "booking:")] == ["withdrawn"]


# --- quiet hours ---


@pytest.fixture
async def bot(botapi):
    async with Bot(TOKEN, base_url=botapi.base_url) as bot:
        yield bot


async def test_quiet_hours_hold_reminders_until_seven_but_not_booking_messages(world, botapi, bot):
    db = world[0]
    teen_chat, adult_chat = botapi.user(TEEN_NIK), botapi.user(HOUSEHOLD_B)
    botapi.user(TEEN_HOUSEHOLD), botapi.user(TEEN_BOTH)
    booked_at = datetime(2026, 12, 14, 3, 0, tzinfo=UTC)
    await _book(db, "adult", date(2026, 12, 16), chat=HOUSEHOLD_B, now=booked_at)
    # The bot comes back at 21:00 WIB and catches up the day's jobs.
    late = scheduled_at(date(2026, 12, 15), time(21, 0))
    assert await plan(world, "teen-reminders", date(2026, 12, 15), now=late) == 3
    assert await plan(world, "booking-reminders", date(2026, 12, 15), at=time(16, 0), now=late)

    seven = scheduled_at(date(2026, 12, 16), time(7, 0))
    reminders = await outbox_rows(db, "teen:")
    assert {row["not_before"] for row in reminders} == {seven}
    (eve,) = await outbox_rows(db, "booking:")
    assert eve["not_before"] == late

    assert await send_due(bot, db, now=late, limit=30) == 1
    assert "besok" in (await adult_chat.next_message()).text
    assert await send_due(bot, db, now=seven - timedelta(minutes=1), limit=30) == 0
    await teen_chat.no_message(within=0.1)
    assert await send_due(bot, db, now=seven, limit=30) == 3
    assert NAME["teen"] in (await teen_chat.next_message()).text
    assert {row["state"] for row in await outbox_rows(db)} == {"sent"}


# --- the birth-date windows (PostgreSQL selects the years, then keeps the exact window) ---

WINDOW_BIRTHS = [date(2008, 12, 31), date(2009, 1, 1), date(2009, 6, 15), date(2009, 12, 31)]
WINDOW_BIRTHS += [date(2010, 1, 1)]


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2009, 1, 1), date(2009, 12, 31)),
        (date(2009, 1, 2), date(2009, 12, 30)),
        (date(2008, 12, 31), date(2010, 1, 1)),
        (date(2009, 6, 15), date(2009, 6, 15)),
    ],
)
async def test_linked_teens_are_those_born_in_the_window_to_the_day(engine_areas, first, last):
    db = engine_areas
    rows = [_row(f"Remaja {n}", born, "L", 10 + n, kk=KK_B) for n, born in enumerate(WINDOW_BIRTHS)]
    async with transaction(db):
        await upsert_residents(db, rows, now=NOW)
    for n, row in enumerate(rows):
        await link_chat(db, 800 + n, await get_resident(db, row[0]), household=False, now=NOW)
    found = await reminder_store.linked_unrecorded_teens(db, born_from=first, born_until=last)
    assert [(p.chat_id, p.tanggal_lahir) for p in found] == [
        (800 + n, born) for n, born in enumerate(WINDOW_BIRTHS) if first <= born <= last
    ]
    assert {p.nama for p in found} <= {row[2] for row in rows}
