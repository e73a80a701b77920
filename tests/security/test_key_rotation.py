"""`dukcapil-bot rotate-key`: everything re-sealed under a new key in one transaction; stopped
half-way it changed nothing, and running it again finishes the job."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from bot import db as dbmod
from bot import postgres
from bot.cli import main
from bot.crypto import Vault, WrongKey
from bot.db import transaction
from bot.domain import KeptFlow
from bot.jobs.sender import sender_lock
from bot.services import outbox, tickets
from bot.services.booking import book as book_service
from bot.services.directory import note_chat
from bot.services.importer import import_residents
from bot.services.key_rotation import rotate_key
from bot.services.links import link_chat
from bot.services.schedule import free_slots
from bot.storage import vault as vault_store
from bot.storage.addresses import PLACE as ADDRESS_PLACE
from bot.storage.addresses import opened_alamat, replace_addresses
from bot.storage.areas import sync_areas
from bot.storage.bookings import get_booking_by_code
from bot.storage.conversations import PLACE as CONVERSATION_PLACE
from bot.storage.conversations import put_rows
from bot.storage.links import list_links
from bot.storage.outbox import PLAN, get_message_by_key
from bot.storage.residents import get_resident, list_household, upsert_residents
from bot.storage.service_points import get_service_point, seed_service_points
from bot.storage.tickets import get_open_ticket
from tests.conftest import NOW, PEOPLE, SECRET_KEY, write_population

ROOT = Path(__file__).resolve().parents[2]
NEW_KEY = "a-new-secret-key-of-the-office-2027"
TEEN, MOTHER, RUDI = PEOPLE["turning17"], PEOPLE["mother"], PEOPLE["unrecorded"]
CHAT = 4242
DUE = date(2026, 12, 15)


async def _fill(db, tmp_path):
    """Every kind of sealed or hashed value: residents, a household link, a booking, a ticket,
    and a queued reminder whose key holds the resident's hash."""
    await seed_service_points(db)
    assert (
        await import_residents(db, write_population(tmp_path / "p.csv"), now=NOW)
    ).rejected == []
    teen = await get_resident(db, TEEN.nik)
    await link_chat(db, CHAT, teen, household=True, now=NOW)
    point = await get_service_point(db, "kanigoro")
    slot = (await free_slots(db, point, date(2026, 11, 25), now=NOW))[0]
    booking = await book_service(
        db,
        chat_id=CHAT,
        nik=RUDI.nik,
        service="rekam",
        point_code="kanigoro",
        start_at=slot.start_at,
        now=NOW,
    )
    await tickets.report(
        db,
        chat_id=CHAT,
        nik=MOTHER.nik,
        kind="damaged",
        cause="peeling",
        description=None,
        attachment=None,
        point_code="kanigoro",
        now=NOW,
    )
    about = ("teen", dbmod.vault_of(db).ref(TEEN.nik), CHAT, DUE)
    key = outbox.reminder_key(dbmod.vault_of(db), *about)
    await outbox.enqueue(
        db,
        key=key,
        chat_id=CHAT,
        kind="reminder",
        text=f"Hai {TEEN.nama}",
        now=NOW,
        plan=outbox.reminder_plan(*about),
    )
    async with transaction(db):
        await replace_addresses(db, [(TEEN.nik, "Jl. Mawar 3", "3", "1")])
    return booking.code


async def _assert_readable(db, code: str) -> None:
    """Everything reads back in clear through the connection's key."""
    assert (await get_resident(db, TEEN.nik)).nama == TEEN.nama
    assert {p.nik for p in await list_household(db, TEEN.kk)} >= {TEEN.nik, MOTHER.nik}
    assert (await get_booking_by_code(db, code)).nik == RUDI.nik
    assert (await get_open_ticket(db, MOTHER.nik)).nik == MOTHER.nik
    assert [(link.kind, link.subject) for link in await list_links(db, CHAT)] == [
        ("household", TEEN.kk)
    ]
    vault = dbmod.vault_of(db)
    key = outbox.reminder_key(vault, "teen", vault.ref(TEEN.nik), CHAT, DUE)
    message = await get_message_by_key(db, key)
    assert message is not None
    assert message.text == f"Hai {TEEN.nama}"
    query = f"SELECT {opened_alamat('a')}, rt, rw FROM resident_addresses a WHERE nik_ref = ?"
    async with db.execute(query, (vault.ref(TEEN.nik),)) as cursor:
        assert list(map(tuple, await cursor.fetchall())) == [("Jl. Mawar 3", "3", "1")]
    async with db.execute("PRAGMA foreign_key_check") as cursor:
        assert await cursor.fetchall() == []


async def test_rotation_reseals_everything_and_the_old_key_is_refused(db, tmp_path):
    code = await _fill(db, tmp_path)
    rotation = await rotate_key(db, NEW_KEY, now=NOW)
    assert (rotation.residents, rotation.already) == (len(PEOPLE), False)
    assert rotation.new_fingerprint == Vault.from_secret(NEW_KEY).fingerprint
    await _assert_readable(db, code)  # the same connection goes on under the new key
    path = tmp_path / "test.sqlite3"
    fresh = await dbmod.connect(path, NEW_KEY)
    try:
        await dbmod.migrate(fresh)
        await _assert_readable(fresh, code)
    finally:
        await fresh.close()
    stale = await dbmod.connect(path, SECRET_KEY)
    try:
        with pytest.raises(dbmod.WrongSecretKey):
            await dbmod.migrate(stale)
    finally:
        await stale.close()
    async with db.execute("SELECT detail FROM audit_log WHERE action = 'key:rotate'") as c:
        ((detail,),) = await c.fetchall()
    assert rotation.old_fingerprint in detail
    assert TEEN.nik not in detail


async def test_a_rotation_stopped_half_way_changed_nothing_and_runs_again(
    db, tmp_path, monkeypatch
):
    code = await _fill(db, tmp_path)
    steps = vault_store._RESEAL
    at = next(n for n, sql in enumerate(steps) if sql.startswith("UPDATE residents")) + 1
    # The process dies after the residents were re-sealed, before the outbox was.
    monkeypatch.setattr(vault_store, "_RESEAL", (*steps[:at], "SELECT crash_here()", *steps[at:]))
    with pytest.raises(Exception, match="crash_here"):
        await rotate_key(db, NEW_KEY, now=NOW)
    await dbmod.install_vault(db, Vault.from_secret(SECRET_KEY))  # the process starts again
    assert await vault_store.stored_fingerprint(db) == Vault.from_secret(SECRET_KEY).fingerprint
    await _assert_readable(db, code)  # wholly under the old key
    monkeypatch.setattr(vault_store, "_RESEAL", steps)
    assert (await rotate_key(db, NEW_KEY, now=NOW)).residents == len(PEOPLE)
    await _assert_readable(db, code)
    await dbmod.install_vault(db, Vault.from_secret(SECRET_KEY))  # a new process, old key
    again = await rotate_key(db, NEW_KEY, now=NOW)  # run once more: nothing to do
    assert again.already
    await _assert_readable(db, code)  # and the connection reads under the key the data has


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.sqlite3"))
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_command_makes_the_key_file_and_a_second_run_says_it_is_done(env, capsys, monkeypatch):
    assert main(["import-residents", str(write_population(env / "p.csv"))]) == 0
    key_file = env / "keys" / "new.key"
    assert main(["rotate-key", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert f"wrote a new key to {key_file}" in out
    assert f"re-sealed {len(PEOPLE)} residents" in out
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert main(["rotate-key", str(key_file)]) == 0  # interrupted or not: same file, resumes
    assert "already" in capsys.readouterr().out
    assert main(["migrate"]) == 2  # the old SECRET_KEY no longer opens it
    assert "SECRET_KEY does not match" in capsys.readouterr().err
    # As its own process: refused, and it ends (no connection left open keeps it alive).
    refused = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_PATH": str(env / "cli.sqlite3"), "SECRET_KEY": SECRET_KEY},
        cwd=ROOT,
        check=False,
    )
    assert refused.returncode == 2
    assert "SECRET_KEY does not match" in refused.stderr
    assert "Traceback" not in refused.stderr
    monkeypatch.setenv("SECRET_KEY", key_file.read_text().strip())
    assert main(["migrate"]) == 0


def test_the_command_refuses_while_the_bot_runs_and_a_short_key(env, capsys):
    assert main(["migrate"]) == 0
    short = env / "short.key"
    short.write_text("too short\n")
    assert main(["rotate-key", str(short)]) == 2
    assert "at least 32 characters" in capsys.readouterr().err
    with sender_lock(env / "cli.sqlite3") as mine:
        assert mine
        assert main(["rotate-key", str(env / "new.key")]) == 2
    assert "stop it first" in capsys.readouterr().err


# --- PostgreSQL: re-sealed in Python, batch by batch (bot/storage/vault.py) ---

PG_PEOPLE = (TEEN, MOTHER, RUDI)
FLOW = ("booking", CHAT, CHAT)  # a conversation's row: name, chat, user


@pytest.fixture
async def pg(pg_url):
    conn = await postgres.connect(pg_url, SECRET_KEY)
    await postgres.migrate(conn)
    yield conn
    await conn.close()


async def _fill_postgresql(db) -> None:
    """A row of every table holding a sealed value or a lookup hash, sealed in Python (the
    server never sees the key), as the storage modules write them."""
    vault = db.vault
    await sync_areas(db)
    await seed_service_points(db)
    await note_chat(db, CHAT, locale="id", now=NOW)
    async with transaction(db):
        await upsert_residents(db, [_resident_row(p) for p in PG_PEOPLE], now=NOW)
    teen, mother, rudi = (vault.ref(p.nik) for p in PG_PEOPLE)
    stamp = NOW.isoformat()
    await db.execute(
        "INSERT INTO resident_addresses (nik_ref, alamat_sealed, rt, rw) VALUES (?, ?, '3', '1')",
        (teen, vault.seal("Jl. Mawar 3", ADDRESS_PLACE, teen)),
    )
    await db.execute(
        "INSERT INTO links (chat_id, kind, subject_ref, consent_at) VALUES (?, 'household', ?, ?),"
        " (?, 'nik', ?, ?)",
        (CHAT, vault.ref(TEEN.kk), stamp, CHAT, rudi, stamp),
    )
    await db.execute(
        "INSERT INTO bookings (code, chat_id, nik_ref, service, service_point, start_at, day,"
        " queue_number, created_at, updated_at) VALUES ('B1', ?, ?, 'rekam', 'kanigoro', ?, ?,"
        " 1, ?, ?)",
        (CHAT, rudi, stamp, "2026-11-25", stamp, stamp),
    )
    await db.execute(
        "INSERT INTO waitlist (chat_id, nik_ref, service, service_point, first_day, last_day,"
        " created_at) VALUES (?, ?, 'rusak', 'kanigoro', '2026-11-25', '2026-11-30', ?)",
        (CHAT, teen, stamp),
    )
    ((ticket,),) = await db.execute_fetchall(
        "INSERT INTO tickets (number, chat_id, nik_ref, kind, cause, service_point, state,"
        " created_at, updated_at) VALUES ('KR-AAAAAA', ?, ?, 'damaged', 'peeling', 'kanigoro',"
        " 'handed_over', ?, ?) RETURNING id",
        (CHAT, mother, stamp, stamp),
    )
    await db.execute(
        "INSERT INTO received_cards (ticket_id, nik_ref, received_at) VALUES (?, ?, ?)",
        (ticket, mother, stamp),
    )
    await db.execute(
        "INSERT INTO living_elsewhere (chat_id, nik_ref, place_kind, place_code, since,"
        " reported_at) VALUES (?, ?, 'abroad', 'MY', '2025-01', ?)",
        (CHAT, rudi, stamp),
    )
    about = ("teen", teen, CHAT, DUE)
    for key, text, plan in (
        (outbox.reminder_key(vault, *about), f"Hai {TEEN.nama}", outbox.reminder_plan(*about)),
        ("reply:1", "Terima kasih", None),
    ):
        await db.execute(
            "INSERT INTO outbox (idempotency_key, chat_id, kind, text, not_before, created_at,"
            " updated_at, plan) VALUES (?, ?, 'reminder', ?, ?, ?, ?, ?)",
            (
                key,
                CHAT,
                vault.seal(text, "outbox.text", CHAT),
                stamp,
                stamp,
                stamp,
                plan and vault.seal(plan, PLAN, key),
            ),
        )
    name, chat, user = FLOW
    flow = vault.seal('{"step": 2}', CONVERSATION_PLACE, f"{name}:{chat}:{user}")
    async with transaction(db):
        await put_rows(db, [KeptFlow(chat, user, name, flow, NOW)])


def _resident_row(person):
    kode_desa = person.desa.replace(".", "")
    rekam = person.rekam or None
    return (person.nik, person.kk, person.nama, person.born.isoformat(), person.sex,
            person.kawin, kode_desa, rekam, person.status)  # fmt: skip


async def _sealed_values(db) -> list[tuple[str, bytes, object]]:
    """Every sealed value in the database: (place, blob, the row it is bound to)."""
    found = []
    for column in ("nik_sealed", "kk_sealed", "nama_sealed", "lahir_sealed"):
        rows = await db.execute_fetchall(f"SELECT {column}, nik_ref FROM residents")
        found += [(f"residents.{column}", bytes(blob), bytes(ref)) for blob, ref in rows]
    rows = await db.execute_fetchall("SELECT alamat_sealed, nik_ref FROM resident_addresses")
    found += [(ADDRESS_PLACE, bytes(blob), bytes(ref)) for blob, ref in rows]
    rows = await db.execute_fetchall("SELECT text, chat_id, plan, idempotency_key FROM outbox")
    found += [("outbox.text", bytes(text), chat) for text, chat, _, _ in rows]
    found += [(PLAN, bytes(plan), key) for _, _, plan, key in rows if plan is not None]
    rows = await db.execute_fetchall("SELECT value, name, chat_id, user_id FROM conversations")
    found += [(CONVERSATION_PLACE, bytes(v), f"{n}:{c}:{u}") for v, n, c, u in rows]
    return found


async def _assert_under(db, vault: Vault, other: Vault) -> None:
    """Every sealed value opens with `vault` and none with `other`; every lookup hash is
    `vault`'s, in every table that holds one."""
    sealed = await _sealed_values(db)
    assert len(sealed) == 4 * len(PG_PEOPLE) + 1 + 2 + 1 + 1
    for place, blob, row in sealed:
        vault.open(blob, place, row)
        with pytest.raises(WrongKey):
            other.open(blob, place, row)
    teen, mother, rudi = (vault.ref(p.nik) for p in PG_PEOPLE)
    rows = await db.execute_fetchall("SELECT nik_ref, kk_ref FROM residents ORDER BY nik_ref")
    assert sorted((bytes(n), bytes(k)) for n, k in rows) == sorted(
        (vault.ref(p.nik), vault.ref(p.kk)) for p in PG_PEOPLE
    )
    children = {}
    for table in ("bookings", "waitlist", "tickets", "received_cards", "living_elsewhere"):
        ((ref,),) = await db.execute_fetchall(f"SELECT nik_ref FROM {table}")
        children[table] = bytes(ref)
    assert children == {
        "bookings": rudi,
        "waitlist": teen,
        "tickets": mother,
        "received_cards": mother,
        "living_elsewhere": rudi,
    }
    rows = await db.execute_fetchall("SELECT kind, subject_ref FROM links ORDER BY kind")
    assert [(kind, bytes(ref)) for kind, ref in rows] == [
        ("household", vault.ref(TEEN.kk)),
        ("nik", rudi),
    ]
    key = outbox.reminder_key(vault, "teen", teen, CHAT, DUE)
    ((plan, text),) = await db.execute_fetchall(
        "SELECT plan, text FROM outbox WHERE idempotency_key = ?", (key,)
    )
    assert vault.open(bytes(plan), PLAN, key) == outbox.reminder_plan("teen", teen, CHAT, DUE)
    assert vault.open(bytes(text), "outbox.text", CHAT) == f"Hai {TEEN.nama}"


async def _keys_and_indexes(db) -> list[tuple[str, ...]]:
    """The foreign keys to residents and residents' indexes, as PostgreSQL defines them."""
    keys = await db.execute_fetchall(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE contype = 'f' AND confrelid = 'residents'::regclass ORDER BY 1, 2"
    )
    indexes = await db.execute_fetchall(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'residents' ORDER BY 1"
    )
    assert len(keys) >= 5
    return [tuple(row) for row in keys + indexes]


async def test_on_postgresql_every_sealed_value_opens_with_the_new_key_and_none_with_the_old(pg):
    await _fill_postgresql(pg)
    old, new = Vault.from_secret(SECRET_KEY), Vault.from_secret(NEW_KEY)
    await _assert_under(pg, old, new)
    (before,) = await pg.execute_fetchall("SELECT pg_relation_filenode('residents')")
    schema = await _keys_and_indexes(pg)
    rotation = await rotate_key(pg, NEW_KEY, now=NOW)
    assert await _keys_and_indexes(pg) == schema  # dropped for the rewrite, all back
    assert (rotation.residents, rotation.already) == (len(PG_PEOPLE), False)
    await _assert_under(pg, new, old)
    assert pg.vault.fingerprint == new.fingerprint  # the connection goes on under the new key
    assert await vault_store.stored_fingerprint(pg) == new.fingerprint
    (after,) = await pg.execute_fetchall("SELECT pg_relation_filenode('residents')")
    assert after != before  # VACUUM FULL wrote the table anew: no old row versions in its file
    assert (await rotate_key(pg, NEW_KEY, now=NOW)).already


async def test_on_postgresql_a_rotation_stopped_half_way_changed_nothing(pg, monkeypatch):
    await _fill_postgresql(pg)
    old, new = Vault.from_secret(SECRET_KEY), Vault.from_secret(NEW_KEY)
    steps = vault_store._APPLY
    at = next(n for n, sql in enumerate(steps) if sql.startswith("UPDATE residents")) + 1
    monkeypatch.setattr(vault_store, "_APPLY", (*steps[:at], "SELECT crash_here()", *steps[at:]))
    with pytest.raises(Exception, match="crash_here"):
        await rotate_key(pg, NEW_KEY, now=NOW)
    assert pg.vault.fingerprint == old.fingerprint
    await _assert_under(pg, old, new)  # wholly under the old key
    monkeypatch.setattr(vault_store, "_APPLY", steps)
    assert (await rotate_key(pg, NEW_KEY, now=NOW)).residents == len(PG_PEOPLE)
    await _assert_under(pg, new, old)


def test_the_command_on_postgresql_waits_for_the_workers_and_says_what_backups_hold(
    env, pg_url, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    assert main(["import-residents", str(write_population(env / "p.csv"))]) == 0
    with psycopg.connect(pg_url, autocommit=True) as worker:  # a worker's heartbeat, just now
        seen = datetime.now(UTC).isoformat()
        worker.execute(
            "INSERT INTO workers (id, started_at, seen_at) VALUES ('w1', %s, %s)", (seen, seen)
        )
        assert main(["rotate-key", str(env / "new.key")]) == 2
        assert "stop every worker first" in capsys.readouterr().err
        worker.execute("DELETE FROM workers")  # it stopped
    assert main(["rotate-key", str(env / "new.key")]) == 0
    out = capsys.readouterr().out
    assert f"re-sealed {len(PEOPLE)} residents" in out
    assert "WAL archives and base backups" in out
    assert main(["rotate-key", str(env / "new.key")]) == 0
    assert "already" in capsys.readouterr().out
