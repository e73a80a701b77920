"""The sandbox's database: a sample population, the planted identities, their roles and links."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import aiosqlite

from bot.app import prepare_database
from bot.config import TIMEZONE, Settings
from bot.sample import export_row, write_export, write_sample
from bot.services.directory import get_resident
from bot.services.importer import import_residents
from bot.services.links import link_chat
from bot.services.roles import add_user
from sandbox.identities import Identity, residents

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
    """Build a fresh database: `count` sample residents, the planted people, roles and links."""
    database_path = settings.database_path
    remove_database(database_path)
    conn = await prepare_database(settings)
    try:
        today = now.astimezone(TIMEZONE).date()
        sample = database_path.with_name("sample-residents.csv")
        write_sample(sample, count, seed=seed, today=today)
        report = await import_residents(conn, sample, now=now)
        log.info("sample population: %s", report.summary())
        planted = write_planted(database_path.with_name("planted-residents.csv"), today)
        report = await import_residents(conn, planted, now=now)
        if report.rejected:
            raise RuntimeError(f"planted residents rejected: {report.rejected}")
        await register(conn, people, now=now)
    finally:
        await conn.close()


def write_planted(path: Path, today: date) -> Path:
    """The planted residents as a SIAK export."""
    write_export(path, map(export_row, residents(today)))
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
