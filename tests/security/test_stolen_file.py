"""What a stolen or edited database file gives an attacker without SECRET_KEY (issue 13).

Finding 3: a NIK is the kecamatan code, the birth date (day + 40 for women) and a serial, so a
file with birth date, sex and desa in clear gave back almost every NIK. The attacker below is
the review's reconstruction, run on the raw tables of the database file and of a backup.
Finding 16: a sealed value moved into another row, by someone who can write to the file, must
not open as that row's (one person's name or NIK shown as another's).
"""

from __future__ import annotations

import shutil
import sqlite3
from calendar import isleap
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot import db as dbmod
from bot.crypto import WrongKey
from bot.nik import FEMALE_DAY_OFFSET
from bot.sample import generate_residents, write_sample
from bot.services import outbox
from bot.services.backup import backup
from bot.services.importer import import_residents
from bot.storage.outbox import get_message_by_key
from bot.storage.residents import get_resident
from tests.conftest import NOW, PEOPLE, write_population

POPULATION = 20_000  # as in the review
SERIALS = 50  # the review tried serials 0001-0050


async def test_a_stolen_file_or_backup_gives_back_under_one_percent_of_niks(db, tmp_path):
    today = date(2026, 11, 24)
    write_sample(tmp_path / "sample.csv", POPULATION, seed=3, today=today)
    assert (await import_residents(db, tmp_path / "sample.csv", now=NOW)).rejected == []
    # The truth, to score the attacker: which NIK each row (by its lookup hash) holds.
    vault = dbmod.vault_of(db)
    truth = {
        vault.ref(row["nik"]): row["nik"]
        for row in generate_residents(POPULATION, seed=3, today=today)
    }
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    for suffix in ("", "-wal"):  # the file and its WAL as they lie on disk, the bot running
        source = tmp_path / f"test.sqlite3{suffix}"
        if source.exists():
            shutil.copy(source, stolen / source.name)
    await backup(db, tmp_path / "backup.sqlite3")

    for copy in (stolen / "test.sqlite3", tmp_path / "backup.sqlite3"):
        guesses = _reconstruct(copy)
        assert guesses.keys() == truth.keys()
        right = sum(guesses[ref] == nik for ref, nik in truth.items())
        assert right / len(truth) < 0.01, f"{right} of {len(truth)} NIKs rebuilt from {copy.name}"


def _reconstruct(path: Path) -> dict[bytes, str]:
    """The review's attack, without the key: per resident, kecamatan (from the desa) + birth
    date + sex + serial. Rows that share all they show in clear get distinct guesses, likeliest
    first (serial 0001 before 0002; every day of a birth year equally likely, unless the date of
    recording, at 17, points at one)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(residents)")]
        birth = "tanggal_lahir" if "tanggal_lahir" in columns else "tahun_lahir"
        rows = conn.execute(
            f"SELECT nik_ref, kode_desa, jenis_kelamin, {birth}, tanggal_rekam FROM residents"
        ).fetchall()
    groups: dict[tuple[str, str, str], list[tuple[bytes, str | None]]] = defaultdict(list)
    for ref, desa, sex, born, recorded in rows:
        groups[desa[:6], sex, str(born)].append((ref, recorded))
    guesses = {}
    for (kecamatan, sex, born), members in groups.items():
        days = _days(born)
        for n, (ref, recorded) in enumerate(members):
            hinted = _hinted_day(recorded, days)
            day, serial = (hinted, 1) if hinted else (days[n % len(days)], 1 + n // len(days))
            guesses[ref] = _nik(kecamatan, day, sex, min(serial, SERIALS))
    return guesses


def _days(born: str) -> list[date]:
    """The birth dates the clear column allows: that date, or every day of that year."""
    if len(born) == 10:
        return [date.fromisoformat(born)]
    first = date(int(born), 1, 1)
    return [first + timedelta(days=n) for n in range(366 if isleap(first.year) else 365)]


def _hinted_day(recorded: str | None, days: list[date]) -> date | None:
    """A birthday 17 years before the recording date, when the year allows it."""
    if recorded is None or len(days) == 1:
        return None
    day = date.fromisoformat(recorded)
    try:
        guess = day.replace(year=day.year - 17)
    except ValueError:  # 29 February
        guess = day - timedelta(days=365 * 17 + 4)
    return guess if guess in days else None


def _nik(kecamatan: str, born: date, sex: str, serial: int) -> str:
    day = born.day + (FEMALE_DAY_OFFSET if sex == "P" else 0)
    return f"{kecamatan}{day:02d}{born:%m%y}{serial:04d}"


async def test_a_sealed_value_moved_to_another_row_does_not_open(db, tmp_path, caplog):
    assert (
        await import_residents(db, write_population(tmp_path / "p.csv"), now=NOW)
    ).rejected == []
    teen, father = PEOPLE["turning17"], PEOPLE["recorded"]
    await outbox.enqueue(db, key="a", chat_id=1, kind="reminder", text=f"Hai {teen.nama}", now=NOW)
    await outbox.enqueue(db, key="b", chat_id=2, kind="reminder", text="Hai", now=NOW)
    vault = dbmod.vault_of(db)
    refs = (vault.ref(teen.nik), vault.ref(father.nik))
    # Someone who can write to the file (no key) swaps two residents' sealed names and NIKs,
    # and moves a message meant for chat 1 into chat 2's row.
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with sqlite3.connect(tmp_path / "test.sqlite3") as editor:
        for column in ("nama_sealed", "nik_sealed"):
            a, b = (
                editor.execute(
                    f"SELECT {column} FROM residents WHERE nik_ref = ?", (r,)
                ).fetchone()[0]
                for r in refs
            )
            editor.execute(f"UPDATE residents SET {column} = ? WHERE nik_ref = ?", (b, refs[0]))
            editor.execute(f"UPDATE residents SET {column} = ? WHERE nik_ref = ?", (a, refs[1]))
        editor.execute(
            "UPDATE outbox SET text = (SELECT text FROM outbox WHERE idempotency_key = 'a')"
            " WHERE idempotency_key = 'b'"
        )
    # Neither reads as the other person's: opening fails, loudly.
    for person in (teen, father):
        with pytest.raises(sqlite3.OperationalError, match="user-defined function"):
            await get_resident(db, person.nik)
    with pytest.raises(WrongKey):  # opened in the bot, on either engine
        await get_message_by_key(db, "b")
    assert "a sealed value in residents.nik_sealed did not open" in caplog.text
    assert "a sealed value in outbox.text did not open" in caplog.text
    assert (await get_message_by_key(db, "a")).text == f"Hai {teen.nama}"  # in place: opens
    assert (await get_resident(db, PEOPLE["mother"].nik)).nama == PEOPLE["mother"].nama
