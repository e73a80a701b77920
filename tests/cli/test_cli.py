"""The `dukcapil-bot` command line, as the office's IT staff use it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.jobs.registry import JOB_NAMES, job_spec
from tests.cli.test_add_drive import TODAY
from tests.cli.test_add_drive import args as drive_args
from tests.conftest import PEOPLE, SECRET_KEY, write_population

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.sqlite3"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return tmp_path


def test_run_without_token_exits_with_a_clear_message(env):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_PATH": str(env / "x.sqlite3"), "BOT_TOKEN": ""},
        cwd=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate(env, capsys):
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["migrate"]) == 0


def test_import_reports_lines_and_summary_without_full_numbers(env, capsys):
    path = write_population(env / "siak.csv")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("3505101205800099,3505100101080001,,1980-05-12,L,KAWIN,35.05.10.2001,,AKTIF\n")
        handle.write("12345,3505100101080001,Tono,1980-05-12,L,KAWIN,35.05.10.2001,,AKTIF\n")
    assert main(["import-residents", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "inserted 6 · updated 0 · rejected 2 · warnings 0"
    assert [line.split(":")[0] for line in out[:-1]] == ["line 8", "line 9"]
    for person in PEOPLE.values():
        assert person.nik not in "\n".join(out)
    assert main(["import-residents", str(path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("inserted 0 · updated 6")


def test_import_refuses_a_file_with_a_wrong_header(env, capsys):
    path = env / "bad.csv"
    path.write_text("nama,umur\nBudi,40\n", encoding="utf-8")
    assert main(["import-residents", str(path)]) == 2
    assert "nothing changed" in capsys.readouterr().err


def test_import_of_a_missing_file_is_refused(env, capsys):
    assert main(["import-residents", str(env / "nope.csv")]) == 2


def test_sample_then_import(env, capsys):
    out = env / "sample.csv"
    assert main(["sample-residents", "--count", "500", "--out", str(out), "--seed", "3"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 501
    assert main(["import-residents", str(out)]) == 0
    assert "inserted 500 · updated 0 · rejected 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--telegram-id", "11", "--role", "staff", "--service-point", "kanigoro"], 0),
        (["--telegram-id", "12", "--role", "official", "--area", "35.05.10.2001"], 0),
        (["--telegram-id", "13", "--role", "admin"], 0),
        (["--telegram-id", "14", "--role", "staff"], 2),
        (["--telegram-id", "15", "--role", "official", "--area", "99.99"], 2),
    ],
)
def test_add_user(env, capsys, args, code):
    assert main(["add-user", *args]) == code


def test_run_job_knows_every_job_of_the_brief_and_no_other(env, capsys):
    for name in JOB_NAMES:
        job_spec(name)  # each name of the brief has a planner and a time of day
    assert set(JOB_NAMES) == {
        "teen-reminders",
        "deadline-reminders",
        "deactivated-reminders",
        "booking-reminders",
        "no-show-sweep",
        "deactivation-preview",
        "daily-digest",
        "card-pickup",
        "backup",
        "unconfirmed-bookings",
        "drive-lists",
        "drive-summaries",
        "weekly-report",
    }
    with pytest.raises(SystemExit):
        main(["run-job", "no-such-job"])
    assert "invalid choice: 'no-such-job'" in capsys.readouterr().err


def test_set_point_changes_capacity_and_hours(env, capsys):
    assert (
        main(["set-point", "tla-wlingi", "--capacity", "8", "--hours", "mon-fri 07:30-12:00"]) == 0
    )
    out = capsys.readouterr().out
    assert "tla-wlingi: 8 places per slot, hours mon-fri 07:30-12:00" in out


@pytest.mark.parametrize(
    "args",
    [
        ["atlantis", "--capacity", "3"],
        ["kanigoro", "--capacity", "0"],
        ["kanigoro", "--hours", "senin 08:00-12:00"],
        ["kanigoro", "--hours", "mon 14:00-08:00"],
    ],
)
def test_set_point_refuses_nonsense(env, capsys, args):
    assert main(["set-point", *args]) == 2
    assert "not changed" in capsys.readouterr().err


def test_audit_prints_who_did_what_since_a_wib_day(env, capsys):
    assert main(["add-user", "--telegram-id", "21", "--role", "admin"]) == 0
    capsys.readouterr()
    assert main(["audit", "--since", "2000-01-01"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 records since 2000-01-01 00:00 WIB"
    assert "system  add-user  " in out[0]
    assert "telegram_id=21 role=admin" in out[0]
    assert " WIB " in out[0]
    assert main(["audit", "--since", "2999-01-01T08:00"]) == 0
    assert capsys.readouterr().out.strip() == "0 records since 2999-01-01 08:00 WIB"
    with pytest.raises(SystemExit):
        main(["audit", "--since", "yesterday"])
    assert "is not a date" in capsys.readouterr().err


def test_audit_prints_a_repeated_refusal_once_with_its_count(env, capsys):
    import asyncio

    from bot.app import prepare_database
    from bot.config import Settings
    from bot.errors import NotAuthorized
    from bot.services.roles import authorize
    from tests.conftest import NOW

    async def hammer() -> None:
        conn = await prepare_database(Settings.from_env(require_token=False))
        for _ in range(3):
            with pytest.raises(NotAuthorized):
                await authorize(conn, 77, "rekap", now=NOW)
        await conn.close()

    asyncio.run(hammer())
    assert main(["audit", "--since", "2026-11-24"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 records since 2026-11-24 00:00 WIB"
    assert out[0].endswith("77  command:rekap  refused (+2 more within the hour)")


def test_run_job_for_a_future_day_says_how_many_are_queued_and_when(env, capsys):
    assert main(["add-user", "--telegram-id", "13", "--role", "admin"]) == 0
    capsys.readouterr()
    assert main(["run-job", "daily-digest", "--date", "2030-01-08"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "daily-digest 2030-01-08: 1 new messages planned" in out
    assert out[-1] == "queued: 1 messages, to go out at 2030-01-08 07:00 WIB"


def test_migrate_on_postgresql(env, pg_url, monkeypatch, capsys):
    import psycopg

    monkeypatch.setenv("DATABASE_URL", pg_url)
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert out.count("database is up to date") == 2
    with psycopg.connect(pg_url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count == len(list((ROOT / "migrations").glob("[0-9]*.sql")))
    assert not (env / "cli.sqlite3").exists()  # not SQLite at DATABASE_PATH


def test_commands_run_on_the_postgresql_of_database_url(env, pg_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    assert main(["import-residents", str(write_population(env / "siak.csv"))]) == 0
    assert main(["add-user", "--telegram-id", "13", "--role", "admin"]) == 0
    assert main(["invite", "--role", "staff", "--service-point", "kanigoro"]) == 0
    assert main(["audit", "--since", "2000-01-01"]) == 0
    assert main(["set-point", "kec-talun", "--capacity", "7"]) == 0
    assert main(drive_args()) == 0
    assert main(["list-drives"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "inserted 6 · updated 0 · rejected 0 · warnings 0" in out
    assert "registered 13 as admin" in out
    assert any(line.startswith("https://t.me/<bot username>?start=inv_") for line in out)
    assert "2 records since 2000-01-01 00:00 WIB" in out  # the role given, the invitation
    assert any(line.startswith("kec-talun: 7 places per slot") for line in out)
    assert out[-1] == f"1 drives planned from {TODAY.isoformat()} on"
    assert not (env / "cli.sqlite3").exists()  # not SQLite at DATABASE_PATH


def test_run_job_runs_on_the_postgresql_of_database_url(env, pg_url, monkeypatch, capsys):
    """No command falls back on SQLite: run-job migrates and plans in PostgreSQL."""
    monkeypatch.setenv("DATABASE_URL", pg_url)
    assert main(["run-job", "daily-digest", "--date", "2030-01-08"]) == 0
    out, err = capsys.readouterr()
    assert "daily-digest 2030-01-08: 0 new messages planned" in out  # nobody to tell yet
    assert pg_url.split("@")[0].split(":")[-1] not in out + err  # the password is never echoed
    assert not (env / "cli.sqlite3").exists()


def test_migrate_refuses_a_postgresql_database_not_sorted_as_sqlite(
    env, pg_cluster, monkeypatch, capsys
):
    url = pg_cluster.create_database("by_locale", collation="C.UTF-8")
    try:
        monkeypatch.setenv("DATABASE_URL", url)
        assert main(["migrate"]) == 2
    finally:
        pg_cluster.drop_database("by_locale")
    err = capsys.readouterr().err
    assert err.startswith("not migrated: the database by_locale sorts text by the collation")
    assert "LC_COLLATE 'C' LC_CTYPE 'C'" in err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@h/db", "DATABASE_URL must be postgresql://"),
        ("postgresql://u:secret-pw@127.0.0.1:1/db", "cannot use the database of DATABASE_URL"),
    ],
)
def test_migrate_says_why_a_database_url_cannot_be_used(env, monkeypatch, capsys, url, message):
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "secret-pw" not in err


def test_import_on_postgresql(env, pg_url, monkeypatch, capsys):
    """`import-residents` with DATABASE_URL: the database migrated and seeded, the residents
    imported there, found by their NIK; SQLite's file never made."""
    import psycopg

    from bot.crypto import Vault

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    path = write_population(env / "siak.csv")
    assert main(["import-residents", str(path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(f"inserted {len(PEOPLE)}")
    assert main(["import-residents", str(path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("inserted 0 · updated")
    vault = Vault.from_secret(SECRET_KEY)
    with psycopg.connect(pg_url) as conn:
        refs = {bytes(row[0]) for row in conn.execute("SELECT nik_ref FROM residents")}
    assert refs == {vault.ref(person.nik) for person in PEOPLE.values()}
    assert not (env / "cli.sqlite3").exists()
