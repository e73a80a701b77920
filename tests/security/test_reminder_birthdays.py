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
from datetime import date, datetime, timedelta
from pathlib import Path

from bot import db as dbmod
from bot.config import Settings
from bot.db import transaction, vault_of
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.nik import make_nik
from bot.rendering import Renderer
from bot.services import outbox
from bot.services.backup import backup
from bot.services.importer import import_residents
from bot.services.key_rotation import rotate_key
from bot.services.links import erase_chat, link_chat
from bot.storage.areas import sync_areas
from bot.storage.outbox import get_message
from bot.storage.residents import get_resident, upsert_residents
from bot.storage.service_points import seed_service_points
from tests.conftest import NOW, PEOPLE, SECRET_KEY, TOKEN, write_population

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
    renderer = Renderer()  # one for the year, as the bot has: its templates compiled once

    async def plan_and_deliver(day: date) -> int:
        now = scheduled_at(day, at)
        planned = await run_planner(
            spec, at, db=db, renderer=renderer, settings=settings, day=day, now=now
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


async def test_an_upgraded_database_keeps_its_reminders_and_forgets_their_day(tmp_path):
    """Migration 0016 on keys of the old form: each is re-derived (planning it again is still a
    no-op), a done one is cut loose from its chat and day, and no old key is left in the file."""
    path, old = tmp_path / "old.sqlite3", tmp_path / "old-migrations"
    old.mkdir()
    for migration in dbmod.migration_files():
        if migration.name < "0016":
            shutil.copy(migration, old / migration.name)
    conn = await dbmod.connect(path, SECRET_KEY)
    try:
        await dbmod.migrate(conn, old)
        await sync_areas(conn)
        await seed_service_points(conn)
        report = await import_residents(conn, write_population(tmp_path / "p.csv"), now=NOW)
        assert report.rejected == []
        vault = dbmod.vault_of(conn)
        teen, adult = vault.ref(PEOPLE["turning17"].nik), vault.ref(PEOPLE["unrecorded"].nik)
        birthday = PEOPLE["turning17"].born.replace(year=PEOPLE["turning17"].born.year + 17)
        stamp = f"{birthday.isoformat()}T01:00:00.000000+00:00"
        old_keys = {
            "sent": f"teen:{teen[:12].hex()}:701:{birthday.isoformat()}",
            "queued": f"deadline:{adult[:12].hex()}:701:2027-04-27",
            "gone": f"teen:{bytes(12).hex()}:702:{birthday.isoformat()}",
            "erased": "teen:erased:9",
            "broadcast": "broadcast:1:701",
        }
        for name, key in old_keys.items():
            state = "queued" if name == "queued" else "sent"
            message_id = None if state == "queued" else 5  # Telegram's id once sent
            chat = 0 if name == "erased" else int(key.split(":")[2]) if name != "broadcast" else 701
            await conn.execute(
                "INSERT INTO outbox (idempotency_key, chat_id, kind, text, state,"
                " telegram_message_id, not_before, created_at, updated_at)"
                " VALUES (?, ?, 'reminder', seal(?, 'outbox.text', ?), ?, ?, ?, ?, ?)",
                (key, chat, f"Hai {name}", chat, state, message_id, stamp, stamp, stamp),
            )
        await conn.execute(
            "INSERT INTO blocked_chats (chat_id, blocked_at) VALUES (703, ?)", (stamp,)
        )
        # Read with SQL of its own: the storage code reads columns of migrations after 0016.
        ids = {name: await _outbox_id(conn, key) for name, key in old_keys.items()}

        assert (await dbmod.migrate(conn))[:1] == [
            "0016_opaque_reminder_keys.sql"
        ]  # and later ones
        month = f"{birthday:%Y-%m}-01T00:00:00.000000+00:00"
        sent = await get_message(conn, ids["sent"])
        assert sent.key == outbox.reminder_key(vault, "teen", teen, 701, birthday)
        assert (sent.chat_id, sent.text, sent.state, sent.not_before.isoformat()) == (
            0,
            "-",
            "sent",
            datetime.fromisoformat(month).isoformat(),
        )
        queued = await get_message(conn, ids["queued"])
        assert queued.key == outbox.reminder_key(vault, "deadline", adult, 701, date(2027, 4, 27))
        assert (queued.chat_id, queued.text, queued.state) == (701, "Hai queued", "queued")
        gone = await get_message(conn, ids["gone"])
        assert (gone.key, gone.chat_id) == (f"teen:gone:{ids['gone']}", 0)
        for name in ("erased", "broadcast"):
            assert (await get_message(conn, ids[name])).key == old_keys[name]
        assert (await get_message(conn, ids["broadcast"])).chat_id == 701
        rows = await conn.execute_fetchall("SELECT blocked_at FROM blocked_chats")
        assert [row[0] for row in rows] == [month]
        # Planned again (the same day re-run), the delivered reminder is not sent twice.
        about = ("teen", teen, 701, birthday)
        assert not await outbox.enqueue(
            conn,
            key=outbox.reminder_key(vault, *about),
            chat_id=701,
            kind="reminder",
            text="Hai",
            now=NOW,
            plan=outbox.reminder_plan(*about),
        )
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        on_disk = path.read_bytes() + _read(path.with_name(path.name + "-wal"))
        for name in ("sent", "queued", "gone"):
            assert old_keys[name].encode() not in on_disk
    finally:
        await conn.close()


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


async def test_a_delivered_reminder_is_still_recognised_after_a_key_rotation(db, tmp_path):
    """rotate-key re-derives every reminder key from its sealed plan, done ones too: the same
    reminder planned again under the new key is not sent twice."""
    await seed_service_points(db)
    report = await import_residents(db, write_population(tmp_path / "p.csv"), now=NOW)
    assert report.rejected == []
    due = date(2026, 12, 15)
    about = ("teen", dbmod.vault_of(db).ref(PEOPLE["turning17"].nik), 4242, due)
    key = outbox.reminder_key(dbmod.vault_of(db), *about)
    plan = outbox.reminder_plan(*about)
    assert await outbox.enqueue(
        db, key=key, chat_id=4242, kind="reminder", text="Hai", now=NOW, plan=plan
    )
    (message,) = await outbox.claim_due(db, now=NOW, limit=10, quiet=None)
    await outbox.mark_sent(db, message.id, 5, NOW)
    assert (await get_message(db, message.id)).chat_id == 0  # cut loose once delivered

    await rotate_key(db, "a-new-secret-key-of-the-office-2027", now=NOW)
    vault = dbmod.vault_of(db)
    about = ("teen", vault.ref(PEOPLE["turning17"].nik), 4242, due)
    new_key = outbox.reminder_key(vault, *about)
    assert new_key != key
    assert (await get_message(db, message.id)).key == new_key
    assert not await outbox.enqueue(
        db,
        key=new_key,
        chat_id=4242,
        kind="reminder",
        text="Hai",
        now=NOW,
        plan=outbox.reminder_plan(*about),
    )


async def test_erasing_a_chat_forgets_the_plans_of_its_delivered_reminders(db, tmp_path):
    """A delivered reminder keeps no chat in clear, but its sealed plan names the chat and the
    resident: /hapus_data finds it by that plan, drops the plan and rewrites the key."""
    await seed_service_points(db)
    report = await import_residents(db, write_population(tmp_path / "p.csv"), now=NOW)
    assert report.rejected == []
    teen = await get_resident(db, PEOPLE["turning17"].nik)
    ref, due = dbmod.vault_of(db).ref(teen.nik), date(2026, 12, 15)
    for chat in (4242, 4343):
        await link_chat(db, chat, teen, household=False, now=NOW)
        about = ("teen", ref, chat, due)
        key = outbox.reminder_key(dbmod.vault_of(db), *about)
        plan = outbox.reminder_plan(*about)
        await outbox.enqueue(
            db, key=key, chat_id=chat, kind="reminder", text="Hai", now=NOW, plan=plan
        )
    for message in await outbox.claim_due(db, now=NOW, limit=10, quiet=None):
        await outbox.mark_sent(db, message.id, 5, NOW)

    await erase_chat(db, 4242, 4242, now=NOW)
    rows = await db.execute_fetchall(
        "SELECT id, idempotency_key, unseal(plan, 'outbox.plan', idempotency_key) FROM outbox"
    )
    assert [plan for *_, plan in rows if plan] == [f"{ref.hex()}:teen:4343:{due}"]
    assert [key for message_id, key, plan in rows if not plan] == [
        f"teen:erased:{message_id}" for message_id, _, plan in rows if not plan
    ]


async def _outbox_id(conn, key: str) -> int:
    rows = list(
        await conn.execute_fetchall("SELECT id FROM outbox WHERE idempotency_key = ?", (key,))
    )
    return int(rows[0][0])
