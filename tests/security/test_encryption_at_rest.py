"""A stolen database file holds no NIK, KK number or name in clear (issue 6, "At rest").

The bot is driven end to end (a check, a household link with consent, a booking confirmed by
staff), then the damaged-card, waitlist and reminder paths write what they write; then the
database file and its WAL are copied as they lie on disk and searched byte by byte.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import time
from datetime import date

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot import db as dbmod
from bot.crypto import Vault, WrongKey
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.rendering import Renderer
from bot.sample import write_sample
from bot.services import tickets, waitlist
from bot.services.directory import note_chat
from bot.services.importer import import_residents
from bot.services.outbox import reminder_key
from bot.storage.residents import get_resident, list_household
from tests.conftest import NOW, PEOPLE, SECRET_KEY, STAFF_ID, serve
from tests.e2e.test_booking import book, data_of
from tests.e2e.test_links import link_with_consent


def _needles(people: list[tuple[str, str, str]]) -> dict[bytes, str]:
    """The byte strings that must not appear: every NIK and KK number, and every name long
    enough that random ciphertext cannot contain it by chance (6 bytes or more)."""
    needles: dict[bytes, str] = {}
    for nik, kk, name in people:
        needles[nik.encode()] = "NIK"
        needles[kk.encode()] = "KK"
        if len(name.encode()) >= 6:
            needles[name.encode()] = "name"
    return needles


def _leaks(raw: bytes, needles: dict[bytes, str]) -> list[str]:
    return [f"{kind} {needle[:4]!r}…" for needle, kind in needles.items() if needle in raw]


def _sample_people(path) -> list[tuple[str, str, str]]:
    import csv

    with path.open(encoding="utf-8") as handle:
        return [(row["nik"], row["no_kk"], row["nama"]) for row in csv.DictReader(handle)]


# SQLite's file and WAL as they lie on disk. On PostgreSQL: the cluster's files and WAL after an
# import, test_postgresql_files_and_wal_hold_no_nik_kk_name_or_address below, and the rows of
# every test's database (tests/privacy_scan.py, `scan_postgresql`).
@pytest.mark.engines("sqlite")
async def test_no_nik_kk_or_name_in_the_database_file_or_its_wal(
    botapi, settings, population, clock, tmp_path
):
    sample = tmp_path / "sample.csv"
    write_sample(sample, 2_000, seed=6, today=date(2026, 11, 24))
    everyone = [(p.nik, p.kk, p.nama) for p in PEOPLE.values()] + _sample_people(sample)
    async with serve(settings, clock) as app:
        db = app.bot_data["db"]
        assert (await import_residents(db, sample, now=NOW)).rejected == []
        staff = botapi.user(STAFF_ID)
        await note_chat(db, STAFF_ID, locale="id", now=NOW)  # staff have opened the bot
        # The citizen checks, links the household (consent), books; staff confirm.
        citizen = botapi.user(6101)
        assert "ditautkan" in (await link_with_consent(citizen, "turning17", "kk")).text
        _, _, _, _ = await book(botapi, 6102, "unrecorded", day="2026-11-25")
        pending = await staff.next_message()
        staff.press(pending, data_of(pending, "st:ok:"))
        assert "dikonfirmasi" in (await staff.next_message()).text
        # A damaged card reported and handed over (received for destruction), a waitlist entry.
        ticket = await tickets.report(
            db,
            chat_id=6103,
            nik=PEOPLE["recorded"].nik,
            kind="damaged",
            cause="peeling",
            description=None,
            attachment=None,
            point_code="kanigoro",
            now=NOW,
        )
        assert ticket.nik == PEOPLE["recorded"].nik
        await waitlist.join_waitlist(
            db,
            chat_id=6104,
            nik=PEOPLE["mother"].nik,
            service="rusak",
            point_code="kanigoro",
            first_day=date(2026, 11, 25),
            last_day=date(2026, 11, 30),
            now=NOW,
        )
        # The teen reminder names the resident: its text waits in the outbox.
        spec = job_spec("teen-reminders")
        day = date(2026, 12, 15)
        await run_planner(
            spec,
            spec.times[0],
            db=db,
            renderer=Renderer(),
            settings=settings,
            day=day,
            now=scheduled_at(day, spec.times[0]),
        )
        async with db.execute("SELECT count(*) FROM outbox WHERE kind = 'reminder'") as cursor:
            assert (await cursor.fetchone())[0] >= 1
        # Copied as it lies on disk while the bot runs: nothing checkpointed on purpose.
        copy = tmp_path / "stolen"
        copy.mkdir()
        for suffix in ("", "-wal"):
            source = settings.database_path.with_name(settings.database_path.name + suffix)
            shutil.copy(source, copy / source.name)
        raw = b"".join(path.read_bytes() for path in sorted(copy.iterdir()))
        # What the bot holds in memory reads back in clear: the data is there, sealed.
        assert (await get_resident(db, PEOPLE["turning17"].nik)).nama == "Dewi Santoso"
    assert len(raw) > 500_000
    assert (copy / "bot.sqlite3-wal").stat().st_size > 0
    needles = _needles(everyone)
    assert len(needles) > 3_000
    assert _leaks(raw, needles) == []
    # A check that cannot pass by accident: the same search finds the export's clear text.
    assert len(_leaks(sample.read_bytes(), needles)) > 3_000


async def test_a_database_from_before_encryption_is_converted_in_place(tmp_path):
    """Rows stored in clear by migrations 0001-0010 are sealed by 0011, in one transaction,
    and their clear bytes do not survive in free pages (secure_delete)."""
    path = tmp_path / "old.sqlite3"
    old = tmp_path / "old-migrations"
    old.mkdir()
    for migration in dbmod.migration_files():
        if migration.name < "0011":
            shutil.copy(migration, old / migration.name)
    conn = await dbmod.connect(path, SECRET_KEY)
    await dbmod.migrate(conn, old)
    from bot.storage.areas import sync_areas
    from bot.storage.service_points import seed_service_points

    await sync_areas(conn)
    await seed_service_points(conn)
    person = PEOPLE["unrecorded"]
    await conn.execute(
        "INSERT INTO residents (nik, no_kk, nama, tanggal_lahir, jenis_kelamin, status_kawin,"
        " kode_desa, tanggal_rekam, status_nik, updated_at) VALUES (?, ?, ?, ?, 'L',"
        " 'BELUM KAWIN', '3505032001', NULL, 'AKTIF', ?)",
        (person.nik, person.kk, person.nama, person.born.isoformat(), NOW.isoformat()),
    )
    await conn.execute(
        "INSERT INTO bookings (code, chat_id, nik, service, service_point, start_at, day,"
        " queue_number, created_at, updated_at) VALUES ('ABC234', 1, ?, 'rekam', 'kanigoro',"
        " ?, '2026-11-25', 1, ?, ?)",
        (person.nik, NOW.isoformat(), NOW.isoformat(), NOW.isoformat()),
    )
    await conn.execute("INSERT INTO chats (chat_id, created_at) VALUES (1, ?)", (NOW.isoformat(),))
    await conn.execute(
        "INSERT INTO links (chat_id, kind, subject, consent_at) VALUES (1, 'household', ?, ?)",
        (person.kk, NOW.isoformat()),
    )
    await conn.execute(
        "INSERT INTO outbox (idempotency_key, chat_id, kind, text, not_before, created_at,"
        " updated_at) VALUES ('k', 1, 'reminder', ?, ?, ?, ?)",
        (f"Halo {person.nama}", NOW.isoformat(), NOW.isoformat(), NOW.isoformat()),
    )
    # A reminder queued under the old key format (an unkeyed hash standing for the NIK).
    legacy = hashlib.sha256(f"dukcapil-outbox:{person.nik}".encode()).hexdigest()[:20]
    await conn.execute(
        "INSERT INTO outbox (idempotency_key, chat_id, kind, text, not_before, created_at,"
        " updated_at) VALUES (?, 1, 'reminder', 'x', ?, ?, ?)",
        (f"deadline:{legacy}:1:2027-04-01", NOW.isoformat(), NOW.isoformat(), NOW.isoformat()),
    )
    await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert person.nama.encode() in path.read_bytes()  # in clear before the migration

    assert (await dbmod.migrate(conn))[0] == "0011_encrypt_at_rest.sql"
    resident = await get_resident(conn, person.nik)
    assert (resident.nik, resident.no_kk, resident.nama) == (person.nik, person.kk, person.nama)
    assert [p.nik for p in await list_household(conn, person.kk)] == [person.nik]
    from bot.storage.bookings import get_booking_by_code
    from bot.storage.links import list_links
    from bot.storage.outbox import get_message

    assert (await get_booking_by_code(conn, "ABC234")).nik == person.nik
    assert [(link.kind, link.subject) for link in await list_links(conn, 1)] == [
        ("household", person.kk)
    ]
    assert (await get_message(conn, 1)).text == f"Halo {person.nama}"
    vault = dbmod.vault_of(conn)
    key = reminder_key(vault, "deadline", vault.ref(person.nik), 1, date(2027, 4, 1))
    assert (await get_message(conn, 2)).key == key  # still recognised: withdrawn, not doubled
    async with conn.execute("PRAGMA foreign_key_check") as cursor:
        assert await cursor.fetchall() == []
    await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    await conn.close()
    raw = path.read_bytes()
    assert _leaks(raw, _needles([(person.nik, person.kk, person.nama)])) == []


async def test_another_secret_key_is_refused_not_silently_empty(db, tmp_path):
    await dbmod.migrate(db)  # the fixture's database, sealed with SECRET_KEY
    other = await dbmod.connect(tmp_path / "test.sqlite3", "another key")
    try:
        with pytest.raises(dbmod.WrongSecretKey, match="does not match"):
            await dbmod.migrate(other)
    finally:
        await other.close()


def test_sealed_values_differ_each_time_and_open_only_with_their_key():
    vault, other = Vault.from_secret("one"), Vault.from_secret("two")
    nik, place, row = "3505101512090003", "residents.nik_sealed", b"row"
    first, second = vault.seal(nik, place, row), vault.seal(nik, place, row)
    assert first != second  # a fresh nonce: equal values are not visible as equal
    assert vault.open(first, place, row) == vault.open(second, place, row) == nik
    assert vault.ref(nik) == vault.ref(nik)
    assert vault.ref(nik) != other.ref(nik)
    with pytest.raises(WrongKey):
        other.open(first, place, row)
    tampered = first[:-1] + bytes([first[-1] ^ 1])
    with pytest.raises(WrongKey):
        vault.open(tampered, place, row)
    # Bound to its place and row: elsewhere it does not open (issue 13, finding 16).
    with pytest.raises(WrongKey):
        vault.open(first, place, b"another row")
    with pytest.raises(WrongKey):
        vault.open(first, "residents.kk_sealed", row)


# Made by the code of 2026-12-06 (`hmac.digest`, `Vault.seal`): every stored lookup hash and
# sealed value depends on them, so a faster way to make them must give the very same bytes.
KNOWN_KEY = "a known key for the lookup hash, 32+ chars"
KNOWN_NIK, KNOWN_KK = "3505011902580001", "3505012906190001"
KNOWN_NAME_SEALED = "84ee4560b5dbb3feeab4ff5857473ef157836386b64b0013948789c3fadb11ffda68ee"


def test_the_lookup_hash_of_a_known_nik_and_kk_under_a_known_key_is_unchanged():
    vault = Vault.from_secret(KNOWN_KEY)
    assert vault.ref(KNOWN_NIK).hex() == (
        "68910ec7c493969f52911b3265db6a54dffd6fed76005c3bd9118dee350b94aa"
    )
    assert vault.ref(KNOWN_KK).hex() == (
        "422272c91b87e7008420c8f82a9381553f1924f36a220edc90e1e05af9a6299a"
    )
    assert vault.ref(KNOWN_NIK) == hmac.digest(vault.ref_key, KNOWN_NIK.encode(), "sha256")


def test_a_place_s_sealer_seals_as_seal_does_and_opens_what_was_sealed_before():
    vault, place = Vault.from_secret(KNOWN_KEY), "residents.nama_sealed"
    row = vault.ref(KNOWN_NIK)
    assert vault.open(bytes.fromhex(KNOWN_NAME_SEALED), place, row) == "MARSUDI"
    sealed = vault.sealer(place)("MARSUDI", row)
    assert vault.open(sealed, place, row) == "MARSUDI"
    # nonce || AES-GCM, bound to the format, the place and the row
    aad = b"dukcapil-bot/sealed/v2\0residents.nama_sealed\0" + row
    assert AESGCM(vault.seal_key).decrypt(sealed[:12], sealed[12:], aad) == b"MARSUDI"
    with pytest.raises(WrongKey):
        vault.open(sealed, "residents.kk_sealed", row)
    with pytest.raises(WrongKey):
        vault.open(sealed, place, vault.ref(KNOWN_KK))


async def test_postgresql_files_and_wal_hold_no_nik_kk_name_or_address(
    pg_cluster, pg_url, tmp_path
):
    """On PostgreSQL the values are sealed in Python before they are sent (issue 15): after an
    import (COPY), a re-import that changes names and addresses (UPDATE) and lookups, neither
    the rows as the server returns them nor the cluster's files, WAL and log hold any of them.
    Through the pool, as `dukcapil-bot import-residents` with DATABASE_URL runs it."""
    from bot import postgres
    from bot.storage.areas import sync_areas

    began = time.time() - 1  # files the test may write: those changed from now on
    sample = tmp_path / "sample.csv"
    write_sample(sample, 300, seed=15, today=date(2026, 11, 24))
    people = _sample_people(sample)
    lines = sample.read_text(encoding="utf-8").splitlines()
    header = lines[0] + ",alamat,rt,rw"
    with_address = [f"{line},Jl. Kenanga Nomor {n},1,2" for n, line in enumerate(lines[1:])]
    renamed = [line.replace(nama, nama + " WIJAYAKUSUMA") for line, (_, _, nama) in zip(
        with_address, people, strict=True)]  # fmt: skip
    needles = _needles(people + [(nik, kk, nama + " WIJAYAKUSUMA") for nik, kk, nama in people])
    needles[b"Kenanga Nomor"] = "address"
    db = await postgres.open_pool(pg_url, SECRET_KEY, size=2)
    try:
        await postgres.migrate(db)
        await sync_areas(db)
        for n, rows in enumerate((with_address, renamed)):
            export = tmp_path / f"export{n}.csv"
            export.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
            report = await import_residents(db, export, now=NOW)
            assert (report.inserted + report.updated, report.rejected) == (300, [])
        nik, kk, nama = people[0]
        assert (await get_resident(db, nik)).nama == nama + " WIJAYAKUSUMA"
        assert nik in [person.nik for person in await list_household(db, kk)]
        stored = await db.execute_fetchall(
            "SELECT r.*, a.* FROM residents r LEFT JOIN resident_addresses a USING (nik_ref)"
        )
        as_returned = repr(stored).encode()
        await db.execute("CHECKPOINT")
    finally:
        await db.close()
    assert _leaks(as_returned, needles) == []
    # Only the files written since the test began: the session's cluster also holds every
    # earlier test's WAL, up to a gigabyte, which nothing of this test's can be in.
    for path, content in pg_cluster.files(since=began):
        assert _leaks(content, needles) == [], path
