"""`dukcapil-bot add-drive`: plans a mobile recording drive, prints its code and deep link; bad
input is refused with a clear message, exit code 2 and nothing written. `list-drives` lists them;
`cancel-drive` cancels one and tells everyone booked.

The command line reads the real clock, so the days are counted from today (WIB)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.cli import main
from bot.config import TIMEZONE
from bot.engine import open_database
from bot.services import drives
from bot.services.schedule import free_slots, is_holiday
from bot.storage import bookings
from tests.conftest import PEOPLE, TOKEN

TODAY = datetime.now(TIMEZONE).date()


def _open_day(after: int) -> date:
    """The first weekday that is no public holiday, `after` days from today or later."""
    day = TODAY + timedelta(days=after)
    while day.weekday() >= 5 or is_holiday(day):
        day += timedelta(days=1)
    return day


def _holiday() -> date:
    """The next public holiday after tomorrow (Indonesia has one every few weeks)."""
    day = TODAY + timedelta(days=2)
    while not is_holiday(day):
        day += timedelta(days=1)
    return day


DAY = _open_day(10)


def args(**changed: str | None) -> list[str]:
    """add-drive's arguments: a drive in Talun run by its kecamatan office, with `changed`
    replacing (None: leaving out) an option."""
    given = {
        "--name": "Perekaman keliling SMAN 1 Talun",
        "--place": "Aula SMAN 1 Talun, Jl. Raya Talun 1",
        "--date": DAY.isoformat(),
        "--hours": "08:00-12:00",
        "--capacity": "10",
        "--area": "35.05.14",
        "--service-point": "kec-talun",
        "--latitude": "-8.0951",
        "--longitude": "112.3115",
    } | {f"--{key.replace('_', '-')}": value for key, value in changed.items()}
    return ["add-drive", *(part for k, v in given.items() if v is not None for part in (k, v))]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.sqlite3"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return tmp_path


def rows(env) -> tuple[int, int]:
    """The drives, and the service points of drives, in the database."""
    with sqlite3.connect(env / "cli.sqlite3") as conn:
        drives = conn.execute("SELECT count(*) FROM drives").fetchone()[0]
        points = conn.execute(
            "SELECT count(*) FROM service_points WHERE open_day IS NOT NULL"
        ).fetchone()[0]
    return drives, points


@pytest.fixture
def bot_env(settings, monkeypatch):
    """The command line on the `settings` database, with the local Bot API server's token."""
    monkeypatch.setenv("DATABASE_PATH", str(settings.database_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # "" on SQLite
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_API_URL", settings.bot_api_url)


@pytest.mark.usefixtures("bot_env")
async def test_creates_the_drive_and_prints_its_code_and_deep_link(settings, botapi, capsys):
    assert await asyncio.to_thread(main, args()) == 0
    first, link = capsys.readouterr().out.splitlines()
    code = first.split()[2].rstrip(":")
    assert first.startswith(f"created drive {code}: {DAY.isoformat()} 08:00-12:00 WIB")
    assert link == f"https://t.me/{botapi.sim.bot_user['username']}?start=drv_{code}"
    conn = await open_database(settings)  # either engine's
    try:
        (row,) = await conn.execute_fetchall(
            "SELECT d.area_code, d.run_by, sp.name, sp.open_day, sp.slot_capacity, sp.latitude"
            " FROM drives d JOIN service_points sp ON sp.code = d.point_code WHERE d.code = ?",
            (code,),
        )
    finally:
        await conn.close()
    assert tuple(row) == (
        "350514",
        "kec-talun",
        "Perekaman keliling SMAN 1 Talun",
        DAY.isoformat(),
        10,
        -8.0951,
    )
    assert await asyncio.to_thread(main, ["list-drives"]) == 0
    listed = capsys.readouterr().out
    assert code in listed
    assert link in listed
    assert "1 drives planned" in listed


def test_without_a_token_the_link_says_where_the_username_goes(env, capsys):
    assert main(args(latitude=None, longitude=None)) == 0
    link = capsys.readouterr().out.splitlines()[1]
    assert link.startswith("https://t.me/<bot username>?start=drv_")
    assert rows(env) == (1, 1)


@pytest.mark.parametrize(
    ("changed", "said"),
    [
        ({"date": (TODAY - timedelta(days=1)).isoformat()}, "from tomorrow on"),
        ({"date": TODAY.isoformat()}, "from tomorrow on"),
        ({"date": _holiday().isoformat()}, "public holiday"),
        ({"area": "35.06.01"}, "is not the code of a desa/kelurahan or kecamatan"),
        ({"area": "35.05.14.9999"}, "is not the code of a desa/kelurahan or kecamatan"),
        ({"capacity": "0"}, "between 1 and"),
        ({"capacity": "-5"}, "between 1 and"),
        ({"service_point": "atlantis"}, "Service point atlantis is unknown"),
        ({"hours": "12:00-08:00"}, "HH:MM-HH:MM"),
        ({"name": "  "}, "name"),
        ({"longitude": None}, "latitude and longitude"),
        ({"latitude": "-7.2575", "longitude": "112.7521"}, "Kabupaten Blitar"),  # Surabaya
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_input_is_refused_and_changes_nothing(env, capsys, changed, said):
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(args(**changed)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("not created: ")
    assert said in err
    assert "<code>" not in err  # plain text, not the chat's HTML
    assert rows(env) == (0, 0)


@pytest.mark.parametrize(
    ("changed", "said"),
    [
        ({"date": "10-12-2026"}, "is not a date (YYYY-MM-DD)"),
        ({"capacity": "ten"}, "invalid int value"),
        ({"area": None}, "the following arguments are required: --area"),
    ],
)
def test_unreadable_options_are_refused_before_anything_is_opened(env, capsys, changed, said):
    with pytest.raises(SystemExit) as exit_:
        main(args(**changed))
    assert exit_.value.code == 2
    assert said in capsys.readouterr().err
    assert not (env / "cli.sqlite3").exists()


@pytest.mark.engines("sqlite", "postgresql")
@pytest.mark.usefixtures("bot_env", "population")
async def test_cancel_drive_tells_everyone_booked_and_releases_the_places(settings, botapi, capsys):
    day = _open_day(3)  # within the fortnight that can be booked
    srengat = args(area="35.05.03", service_point="kec-srengat", date=day.isoformat())
    assert await asyncio.to_thread(main, srengat) == 0
    code = capsys.readouterr().out.split()[2].rstrip(":")
    citizen = botapi.user(7401)
    conn = await open_database(settings)
    try:
        drive = await drives.get_drive_by_code(conn, code)
        now = datetime.now(UTC)
        slot = (await free_slots(conn, drive.point, day, now=now))[0]
        booking = await drives.book_at_drive(
            conn, code, chat_id=7401, nik=PEOPLE["unrecorded"].nik, start_at=slot.start_at, now=now
        )
    finally:
        await conn.close()
    assert await asyncio.to_thread(main, ["cancel-drive", code.lower()]) == 0
    out = capsys.readouterr().out
    assert f"cancelled drive {code} ({day.isoformat()}): 1 bookings cancelled" in out
    assert "delivered 1 messages" in out  # no bot runs: the command delivers them itself
    told = await citizen.next_message()
    assert booking.code in told.text
    assert "dibatalkan" in told.text
    assert ("🗓 Pesan jadwal lain", "menu:antre") in told.buttons
    conn = await open_database(settings)
    try:
        assert (await bookings.get_booking(conn, booking.id)).state == "cancelled"
    finally:
        await conn.close()
    assert await asyncio.to_thread(main, ["cancel-drive", code]) == 2
    assert (
        "not cancelled: This mobile recording drive has been cancelled." in capsys.readouterr().err
    )
    assert await asyncio.to_thread(main, ["cancel-drive", "ZZZZZZ"]) == 2
    assert "No mobile recording drive has the code ZZZZZZ" in capsys.readouterr().err
