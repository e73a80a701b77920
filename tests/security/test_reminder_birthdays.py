"""What the outbox of a stolen database file tells about the residents it reminded (issue 13,
finding 3, its residual): a teen is reminded on their 17th birthday and monthly on that day, so
a reminder row that keeps its chat and its day for ever gives a linked teen's birth date, and
with the kecamatan (the desa), the sex and the birth year (in clear) the NIK, one of 50 serials.
"""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

from bot.config import Settings
from bot.db import transaction, vault_of
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.nik import make_nik
from bot.rendering import Renderer
from bot.services import outbox
from bot.services.backup import backup
from bot.services.links import link_chat
from bot.storage.residents import get_resident, upsert_residents
from bot.storage.service_points import seed_service_points
from tests.conftest import NOW, SECRET_KEY, TOKEN

TEENS = 60
DESAS = ("3505102001", "3505032001")  # two kecamatan
FIRST_DAY, DAYS = date(2026, 11, 1), 365
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _teens(rng: random.Random) -> list[tuple[str, date, tuple[object, ...]]]:
    """Unmarried, unrecorded teens turning 17 in the simulated year: (NIK, birth, import row)."""
    teens = []
    for n in range(TEENS):
        born = date(2009, 11, 15) + timedelta(days=rng.randrange(165))
        sex, desa = rng.choice("LP"), DESAS[n % 2]
        nik = make_nik(desa[:6], born, sex, 1 + n % 3)
        kk = f"{desa[:6]}0101{10 + n // 10:02d}{n % 10:04d}"
        row = (nik, kk, f"Remaja {n}", born.isoformat(), sex, "BELUM KAWIN", desa, None, "AKTIF")
        teens.append((nik, born, row))
    return teens


async def test_delivered_reminders_do_not_give_a_linked_teens_birth_date(db, tmp_path):
    await seed_service_points(db)
    teens = _teens(random.Random(13))
    async with transaction(db):
        await upsert_residents(db, [row for _, _, row in teens], now=NOW)
    for chat, (nik, _, _) in enumerate(teens, start=9000):
        await link_chat(db, chat, await get_resident(db, nik), household=False, now=NOW)
    settings = Settings.from_env(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "x.sqlite3"), "SECRET_KEY": SECRET_KEY}
    )
    spec = job_spec("teen-reminders")
    at = spec.times[0]

    async def plan_and_deliver(day: date) -> int:
        now = scheduled_at(day, at)
        planned = await run_planner(
            spec, at, db=db, renderer=Renderer(), settings=settings, day=day, now=now
        )
        due = await outbox.claim_due(db, now=now, limit=1000, quiet=settings.quiet_hours)
        sent = [(m, outbox.Outcome("sent", telegram_message_id=m.id)) for m in due]
        await outbox.record_outcomes(db, sent, now=now)
        return planned

    year = [FIRST_DAY + timedelta(days=n) for n in range(DAYS)]
    planned = [await plan_and_deliver(day) for day in year]
    assert sum(planned) > 5 * TEENS  # monthly reminders, for every teen
    birthdays = [born.replace(year=2026 if born.year == 2009 else 2027) for _, born, _ in teens]
    # Planning those days again sends nothing: the delivered reminders are still recognised.
    assert [await plan_and_deliver(day) for day in birthdays[:10]] == [0] * 10

    await db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    for suffix in ("", "-wal"):  # the file and its WAL as they lie on disk, the bot running
        source = tmp_path / f"test.sqlite3{suffix}"
        if source.exists():
            shutil.copy(source, stolen / source.name)
    await backup(db, tmp_path / "backup.sqlite3")

    truth = {vault_of(db).ref(nik): nik for nik, _, _ in teens}
    for copy in (stolen / "test.sqlite3", tmp_path / "backup.sqlite3"):
        guesses = _birth_dates_from_the_outbox(copy)
        right = [ref for ref, nik in truth.items() if guesses.get(ref) == nik[6:12]]
        assert len(right) <= TEENS // 50, f"{len(right)} of {TEENS} teens' NIKs narrowed to 50"


def _birth_dates_from_the_outbox(path: Path) -> dict[bytes, str]:
    """The attack, without the key: join each outbox row to the resident its chat is linked to,
    read every date the row shows (key, times) and take the birthday as the earliest date on
    the day of the month that recurs most (monthly reminders), in the clear birth year. Gives
    the NIK's date part (DDMMYY, day + 40 for women) per resident's lookup hash."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT r.nik_ref, r.jenis_kelamin, r.tahun_lahir, o.idempotency_key, o.created_at,"
            " o.not_before, o.updated_at FROM outbox o"
            " JOIN links l ON l.chat_id = o.chat_id AND l.kind = 'nik'"
            " JOIN residents r ON r.nik_ref = l.subject_ref"
        ).fetchall()
    seen: dict[bytes, tuple[str, int, list[date]]] = {}
    dates: dict[bytes, list[date]] = defaultdict(list)
    for ref, sex, year, *columns in rows:
        seen[ref] = (sex, year, dates[ref])
        for column in columns:
            dates[ref] += [date.fromisoformat(text) for text in DATE.findall(column or "")]
    guesses = {}
    for ref, (sex, year, days) in seen.items():
        modal_day = Counter(day.day for day in days).most_common(1)[0][0]
        first = min(day for day in days if day.day == modal_day)
        try:
            born = first.replace(year=year)
        except ValueError:  # 29 February
            continue
        guesses[ref] = f"{born.day + (40 if sex == 'P' else 0):02d}{born:%m%y}"
    return guesses
