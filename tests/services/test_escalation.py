"""Bookings nobody confirmed: a point no staff can be told of confirms by itself, and a booking
still pending at 16:00 WIB the day before its visit goes to every admin once."""

from __future__ import annotations

import json
from datetime import time, timedelta

import pytest

from bot.config import Settings
from bot.db import vault_of
from bot.domain import RoleUser
from bot.errors import NotAdmin, StaffNotChangeable
from bot.jobs.registry import JOB_NAMES, job_spec, run_planner, scheduled_at
from bot.rendering import Renderer
from bot.services import escalation, frontdesk
from bot.services.directory import note_chat
from bot.services.roles import add_user
from bot.storage import outbox as outbox_store
from bot.storage.point_settings import set_staff_chat
from tests.conftest import NOW, PEOPLE, SECRET_KEY, TOKEN
from tests.desk import ADMIN, KANIGORO, TODAY, WLINGI, book_at, db_of_each_engine, desk, reread

__all__ = ["db_of_each_engine", "desk"]  # the fixtures: `desk` on each engine in turn

TOMORROW = TODAY + timedelta(days=1)  # Wednesday 25 November 2026
SECOND_ADMIN = RoleUser(105, "admin", None, None)
JOB = "unconfirmed-bookings"
FOUR_PM = time(16, 0)


async def plan(db, day=TODAY, *, at=None):
    """Run the escalation job for `day` at 16:00 WIB (or `at`)."""
    settings = Settings.from_env(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": "unused.sqlite3", "SECRET_KEY": SECRET_KEY}
    )
    now = at or scheduled_at(day, FOUR_PM)
    return await run_planner(
        job_spec(JOB), FOUR_PM, db=db, renderer=Renderer(), settings=settings, day=day, now=now
    )


async def escalations(db):
    """(key, chat, text, buttons) of every escalation in the outbox, by key."""
    rows = await db.execute_fetchall(
        "SELECT idempotency_key, chat_id, text, reply_markup"
        " FROM outbox WHERE idempotency_key LIKE 'booking:%:escalated:%'"
        " ORDER BY idempotency_key"
    )
    vault = vault_of(db)  # opened here: PostgreSQL has no unseal()
    return [
        (
            key,
            chat,
            vault.open(text, "outbox.text", chat),
            [b["callback_data"] for r in json.loads(m)["inline_keyboard"] for b in r],
        )
        for key, chat, text, m in rows
    ]


@pytest.fixture
async def admins(desk):
    """Two admins who have opened the bot."""
    await add_user(desk, SECOND_ADMIN.telegram_id, "admin", service_point=None, area=None, now=NOW)
    await note_chat(desk, SECOND_ADMIN.telegram_id, locale="en", now=NOW)
    return desk


# --- a point nobody would hear of a booking from confirms it by itself ---


async def test_a_point_with_staff_who_opened_the_bot_waits_for_them(desk):
    assert (await book_at(desk, day=TOMORROW)).state == "pending"


async def test_a_point_without_staff_confirms_by_itself(desk):
    booking = await book_at(desk, point="tla-srengat", day=TOMORROW)
    assert booking.state == "confirmed"


async def test_a_point_whose_staff_never_opened_the_bot_confirms_by_itself(desk):
    await add_user(desk, 120, "staff", service_point="tla-srengat", area=None, now=NOW)
    assert (await book_at(desk, point="tla-srengat", day=TOMORROW)).state == "confirmed"
    await note_chat(desk, 120, locale="id", now=NOW)  # the staff member opens the bot
    assert (await book_at(desk, "turning17", point="tla-srengat", day=TOMORROW)).state == "pending"


async def test_a_point_whose_staff_blocked_the_bot_confirms_by_itself(desk):
    await outbox_store.block_chat(desk, WLINGI.telegram_id, now=NOW)
    assert (await book_at(desk, point="tla-wlingi", day=TOMORROW)).state == "confirmed"


async def test_a_staff_group_decides_where_one_is_set(desk):
    await set_staff_chat(desk, "tla-srengat", -100)  # no staff member, but a staff group
    assert (await book_at(desk, point="tla-srengat", day=TOMORROW)).state == "pending"
    await set_staff_chat(desk, "kanigoro", -200)
    await outbox_store.block_chat(desk, -200, now=NOW)  # the bot was removed from the group
    assert (await book_at(desk, "turning17", day=TOMORROW)).state == "confirmed"


# --- still pending at 16:00 WIB the day before: every admin hears of it, once ---


async def test_the_job_is_registered_at_four_pm():
    assert JOB in JOB_NAMES
    assert job_spec(JOB).times == (FOUR_PM,)


async def test_a_pending_booking_of_tomorrow_goes_to_each_admin_once(admins):
    booking = await book_at(admins, day=TOMORROW)
    assert await plan(admins) == 2
    assert await plan(admins) == 0  # the job runs twice: nothing more
    found = await escalations(admins)
    assert [chat for _, chat, _, _ in found] == [ADMIN.telegram_id, SECOND_ADMIN.telegram_id]
    for key, _, text, buttons in found:
        assert key.startswith(f"booking:{booking.id}:escalated:")
        assert buttons == [f"esc:ok:{booking.id}:{booking.version}"]
        assert booking.code in text
        assert "Kantor Dispendukcapil Kabupaten Blitar" in text
        assert "25 November 2026" in text
        assert PEOPLE["unrecorded"].nik not in text
        assert PEOPLE["unrecorded"].kk not in text
        assert PEOPLE["unrecorded"].nama not in text
    id_text, en_text = found[0][2], found[1][2]
    assert "Perekaman e-KTP" in id_text
    assert "belum dikonfirmasi" in id_text
    assert "not yet confirmed" in en_text  # the second admin reads English


async def test_confirmed_bookings_and_later_visits_are_not_escalated(admins):
    confirmed = await book_at(admins, day=TOMORROW)
    await frontdesk.confirm(admins, confirmed.id, staff=KANIGORO, now=NOW)
    later = TOMORROW + timedelta(days=1)
    assert (await book_at(admins, "turning17", day=later)).state == "pending"
    assert await plan(admins) == 0
    assert await escalations(admins) == []


async def test_before_four_pm_a_visit_is_escalated_only_the_day_before(admins):
    pending = await book_at(admins, day=TOMORROW + timedelta(days=1))
    assert await plan(admins) == 0  # Tuesday: the visit is on Thursday
    assert await plan(admins, TOMORROW) == 2  # Wednesday 16:00
    assert {key.split(":")[1] for key, *_ in await escalations(admins)} == {str(pending.id)}


# --- the admin confirms ---


async def test_an_admin_confirms_a_booking_of_any_point(admins):
    booking = await book_at(admins, point="tla-wlingi", day=TOMORROW)
    confirmed = await escalation.confirm(admins, booking.id, admin=ADMIN, now=NOW)
    assert confirmed.state == "confirmed"
    with pytest.raises(StaffNotChangeable):  # a second press
        await escalation.confirm(admins, booking.id, admin=SECOND_ADMIN, now=NOW)


async def test_an_admin_confirms_by_code(admins):
    booking = await book_at(admins, day=TOMORROW)
    confirmed = await escalation.confirm_code(
        admins, booking.code.lower(), admin=SECOND_ADMIN, now=NOW
    )
    assert confirmed.state == "confirmed"


@pytest.mark.parametrize("actor", [None, KANIGORO], ids=["citizen", "staff"])
async def test_only_admins_confirm_this_way(admins, actor):
    booking = await book_at(admins, day=TOMORROW)
    with pytest.raises(NotAdmin):
        await escalation.confirm(admins, booking.id, admin=actor, now=NOW)
    assert (await reread(admins, booking)).state == "pending"
