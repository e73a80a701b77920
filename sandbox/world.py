"""The sandbox's database: a sample population, the planted identities, their roles and links,
the last month's reminders and visits (sandbox/history.py) and the last annual deactivation on
record (sandbox/story.py)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import aiosqlite

from bot.app import prepare_database
from bot.config import TIMEZONE, Settings
from bot.domain import Resident
from bot.engine import is_postgresql
from bot.sample import export_row, write_export, write_sample
from bot.services.directory import get_resident
from bot.services.importer import import_residents
from bot.services.links import link_chat
from bot.services.roles import add_user
from sandbox.history import import_history_people, play_last_month
from sandbox.identities import RECORDING_POINT, Identity, residents
from sandbox.story import Deactivation, last_deactivation, record_deactivation

log = logging.getLogger(__name__)


def remove_database(path: Path) -> None:
    """Delete the database and its WAL files: every sandbox starts from a fresh world."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def prepare_world(
    settings: Settings,
    people: list[Identity],
    *,
    count: int,
    seed: int,
    now: datetime,
) -> None:
    """Build a fresh database: `count` sample residents, the planted people, roles and links,
    the last month's history."""
    database_path = settings.database_path
    remove_database(database_path)
    conn = await prepare_database(settings)
    if is_postgresql(conn):  # the sandbox's world is one SQLite file it deletes and rebuilds
        await conn.close()
        raise RuntimeError("the sandbox runs on SQLite: unset DATABASE_URL")
    try:
        today = now.astimezone(TIMEZONE).date()
        sample = database_path.with_name("sample-residents.csv")
        write_sample(sample, count, seed=seed, today=today)
        report = await import_residents(conn, sample, now=now)
        log.info("sample population: %s", report.summary())
        done = last_deactivation(now)
        await import_planted(conn, database_path.parent, today, now=now, deactivated=done)
        await import_history_people(
            conn, database_path.parent, today, now=now, deactivated=done.applied
        )
        await register(conn, people, now=now)
        staff = next(p.user_id for p in people if p.service_point == RECORDING_POINT)
        await play_last_month(conn, today, staff_id=staff, seed=seed)
        admin = next(person.user_id for person in people if person.role == "admin")
        await record_deactivation(conn, done, admin_id=admin)
    finally:
        await conn.close()


async def import_planted(
    conn: aiosqlite.Connection,
    folder: Path,
    today: date,
    *,
    now: datetime,
    deactivated: Deactivation,
) -> None:
    """Import the planted residents; a NONAKTIF one as of the day the last deactivation was
    applied, the day the database records as the one its NIK became NONAKTIF."""
    planted = residents(today)
    batches = (
        ([p for p in planted if p.active], now),
        ([p for p in planted if not p.active], deactivated.applied),
    )
    for number, (batch, moment) in enumerate(batches):
        path = write_planted(folder / f"planted-residents-{number}.csv", batch)
        report = await import_residents(conn, path, now=moment)
        if report.rejected:
            raise RuntimeError(f"planted residents rejected: {report.rejected}")


def write_planted(path: Path, planted: list[Resident]) -> Path:
    """Planted residents as a SIAK export."""
    write_export(path, map(export_row, planted))
    return path


async def register(conn: aiosqlite.Connection, people: list[Identity], *, now: datetime) -> None:
    """Register the role identities and give the citizens their links with consent."""
    for person in people:
        if person.role != "citizen":
            await add_user(
                conn,
                person.user_id,
                person.role,
                service_point=person.service_point,
                area=person.area,
                now=now,
            )
        for nik, whole_household in person.links:
            resident = await get_resident(conn, nik)
            assert resident is not None, "a planted resident is missing"
            await link_chat(conn, person.user_id, resident, household=whole_household, now=now)
