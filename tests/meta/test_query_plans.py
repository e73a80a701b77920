"""The query plans of every query the scheduled jobs run: no full scan of residents or outbox.

The SQL is not copied here: the real planners and services run on a small planted database with
a trace callback on the connection, and every statement they ran is then explained
(`EXPLAIN QUERY PLAN`). Without ANALYZE statistics SQLite plans by the schema alone, so the plans
seen on this small database are the plans at 1.3 M residents. A plan may SCAN residents only
where the query must read a whole group of residents, and then from a partial index, never the
table; those are listed in ALLOWED_SCANS with the reason.
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, time, timedelta

import pytest

from bot.config import Settings
from bot.db import transaction
from bot.domain import RoleUser
from bot.handlers.deactivation import notifier
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.rendering import Renderer
from bot.services import booking as booking_service
from bot.services import broadcasts, deactivation, outbox, tickets
from bot.services.broadcasts import Draft
from bot.services.roles import add_user
from bot.services.schedule import free_slots
from bot.storage.service_points import get_service_point, seed_service_points
from tests.conftest import ADMIN_ID, NOW, OFFICIAL_ID, PEOPLE, SECRET_KEY, STAFF_ID, TOKEN
from tests.village import plant

BIG_TABLES = ("residents", "outbox")  # grow with the regency and with every message sent
COUNTDOWN_DAY = date(2027, 3, 31)  # 30 days before the 30 April 2027 deadline
AFTER_DEADLINE = date(2027, 5, 1)
ADMIN = RoleUser(ADMIN_ID, "admin", None, None)
OFFICIAL = RoleUser(OFFICIAL_ID, "official", None, "350510")  # a kecamatan
DESA_OFFICIAL = RoleUser(9004, "official", None, "3505102002")

# (step, index) -> why that step must read every row the (partial) index holds. A plan line
# `SCAN <big table>` is allowed only here; a scan of the whole table (index None) nowhere.
ALLOWED_SCANS: dict[tuple[str, str | None], str] = {
    ("deactivation-preview", "residents_unrecorded"): (
        "counts the whole cohort per desa: every unrecorded resident is read, from the partial"
        " covering index (a quarter of the residents), never the table"
    ),
    ("deactivation-apply", "residents_unrecorded"): (
        "counts, then deactivates, the whole cohort: the same partial index, never the table"
    ),
}


class Tracer:
    """Collects each data statement the connection runs, tagged with the step running it."""

    def __init__(self) -> None:
        self.step = ""
        self.statements: dict[str, str] = {}  # SQL (parameters expanded) -> step

    def __call__(self, sql: str) -> None:
        first = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if first in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
            self.statements.setdefault(sql, self.step)


@pytest.fixture
async def traced(db, tmp_path):
    """The planted village, staff, an official, an admin and bookings; the tracer on."""
    await seed_service_points(db)
    await plant(db, tmp_path)
    for user_id, role, point, area in (
        (STAFF_ID, "staff", "kanigoro", None),
        (OFFICIAL_ID, "official", None, "35.05.10"),
        (ADMIN_ID, "admin", None, None),
    ):
        await add_user(db, user_id, role, service_point=point, area=area, now=NOW)
    await _book(db, PEOPLE["turning17"].nik, chat_id=101)
    tracer = Tracer()
    await db.set_trace_callback(tracer)
    yield db, tracer
    await db.set_trace_callback(None)


async def _book(db, nik, *, chat_id):
    point = await get_service_point(db, "kanigoro")
    tomorrow = NOW.date() + timedelta(days=1)
    (slot, *_) = await free_slots(db, point, tomorrow, now=NOW)
    await booking_service.book(
        db,
        chat_id=chat_id,
        nik=nik,
        service="rekam",
        point_code="kanigoro",
        start_at=slot.start_at,
        now=NOW,
    )


def _settings(tmp_path):
    return Settings.from_env(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "x.sqlite3"), "SECRET_KEY": SECRET_KEY}
    )


async def _run_jobs(db, tracer, settings):
    """Every scheduled job's every slot, on days where each has work."""
    renderer = Renderer()
    days = {
        "teen-reminders": COUNTDOWN_DAY,
        "deadline-reminders": COUNTDOWN_DAY,
        "deactivated-reminders": COUNTDOWN_DAY,
        "booking-reminders": NOW.date(),
        "no-show-sweep": NOW.date() + timedelta(days=1),
        "deactivation-preview": AFTER_DEADLINE,
        "daily-digest": NOW.date(),
    }
    for name, day in days.items():
        spec = job_spec(name)
        for at in spec.times:
            tracer.step = name
            await run_planner(
                spec,
                at,
                db=db,
                renderer=renderer,
                settings=settings,
                day=day,
                now=scheduled_at(day, at),
            )
    return renderer


async def _run_services(db, tracer, settings, renderer):
    """What the jobs' messages lead to (approving the deactivation, broadcasts, the sender),
    and a citizen's booking and ticket."""
    tracer.step = "citizen-booking"  # reading back what was inserted, the NIK opened
    await _book(db, PEOPLE["unrecorded"].nik, chat_id=105)
    tracer.step = "citizen-ticket"
    await tickets.report(
        db,
        chat_id=102,
        nik=PEOPLE["recorded"].nik,
        kind="damaged",
        cause="peeling",
        description=None,
        attachment=None,
        point_code="kanigoro",
        now=NOW,
    )
    tracer.step = "deactivation-apply"
    (run_id,) = [row[0] for row in await db.execute_fetchall("SELECT id FROM deactivation_runs")]
    run = await deactivation.get_run(db, run_id)
    await deactivation.count_now(db, run)
    await deactivation.approve(
        db,
        run_id,
        admin=ADMIN,
        today=AFTER_DEADLINE,
        now=scheduled_at(AFTER_DEADLINE, time(10)),
        notifier=notifier(renderer, settings),
    )
    texts = {"id": "Halo", "en": "Hello"}
    for user in (DESA_OFFICIAL, OFFICIAL, ADMIN):
        for n, audience in enumerate(broadcasts.AUDIENCES):
            tracer.step = f"broadcast-recipients:{user.area_code or 'regency'}:{audience}"
            await broadcasts.count_recipients(db, user, audience, today=NOW.date())
            with suppress(broadcasts.NoRecipients):  # a day each: officials send three a day
                await broadcasts.send(
                    db,
                    user,
                    Draft("free", audience, text="Halo"),
                    texts,
                    default_locale="id",
                    now=NOW + timedelta(days=n),
                )
    tracer.step = "broadcast-reports"
    await broadcasts.finished_unreported(db)
    tracer.step = "outbox-claim"
    claimed = await outbox.claim_due(db, now=NOW + timedelta(days=200), limit=50)
    assert claimed, "the jobs planned messages for the sender to claim"
    await outbox.record_outcomes(db, [], now=NOW)
    await outbox.requeue_in_flight(db)
    await outbox.count_queued(db)
    tracer.step = "outbox-withdraw"
    async with transaction(db):
        await outbox.withdraw(db, "booking:1:", now=NOW)
    await outbox.delivery_report(db, "broadcast:1:")


def _names(sql: str, table: str) -> set[str]:
    """The table's name and its aliases in the statement."""
    aliases = re.findall(rf"\b{table}\s+(?:AS\s+)?([a-z_]\w*)", sql, flags=re.IGNORECASE)
    keywords = {"where", "join", "cross", "on", "set", "group", "order", "left", "inner", "limit"}
    return {table} | {a for a in aliases if a.lower() not in keywords}


async def _scans(db, sql: str) -> list[tuple[str | None, str]]:
    """(index or None, plan line) for every plan line that scans a big table."""
    plan = [row[3] for row in await db.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}")]
    scans = []
    for table in BIG_TABLES:
        names = _names(sql, table)
        for line in plan:
            match = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", line)
            if match and match.group(1) in names:
                scans.append((match.group(2), line))
    return scans


async def test_no_job_query_scans_a_big_table_where_an_index_can_serve(traced, tmp_path):
    db, tracer = traced
    settings = _settings(tmp_path)
    renderer = await _run_jobs(db, tracer, settings)
    await _run_services(db, tracer, settings, renderer)
    await db.set_trace_callback(None)
    offending, allowed_seen = [], set()
    for sql, step in tracer.statements.items():
        for index, line in await _scans(db, sql):
            if (step, index) in ALLOWED_SCANS:
                allowed_seen.add((step, index))
            else:
                offending.append(f"[{step}] {line}\n    {sql[:300]}")
    assert offending == [], "\n".join(offending)
    assert allowed_seen == set(ALLOWED_SCANS), "a listed scan no longer happens: unlist it"


async def test_every_job_ran_queries_against_the_residents(traced, tmp_path):
    """The trace sees the jobs' queries (a broken hook would make the plan test pass vacuously)."""
    db, tracer = traced
    settings = _settings(tmp_path)
    await _run_jobs(db, tracer, settings)
    touching = {step for sql, step in tracer.statements.items() if "residents" in sql}
    assert {
        "teen-reminders",
        "deadline-reminders",
        "deactivated-reminders",
        "deactivation-preview",
        "daily-digest",
    } <= touching
