"""Shared fixtures: a fresh database built by running the real migrations."""

from __future__ import annotations

import asyncio
import csv
import itertools
import shutil
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import aiosqlite
import pytest
from telegram.ext import Application

from bot import db as dbmod
from bot.app import build_application, prepare_database
from bot.clock import FixedClock
from bot.config import Settings
from bot.engine import is_postgresql, open_database
from bot.nik import make_nik
from bot.services.directory import note_chat
from bot.services.importer import import_residents
from bot.services.roles import add_user
from bot.storage.areas import sync_areas
from botapi import BotApiServer
from tests.pg import Cluster, Unavailable

pytest_plugins = ["tests.privacy_scan"]  # no NIK or KK number sent, logged or audited
# The `db` fixture's and the `settings` fixture's SECRET_KEY (at least 32 characters).
SECRET_KEY = "test-secret-of-the-suite-0123456789abcdef"


# --- SQLite: files migrated once per worker, copied for each test ---


@dataclass(frozen=True)
class SQLiteTemplates:
    """Database files made once per worker by the real migrations (the suite's SECRET_KEY), each
    copied for a test in a millisecond instead of migrating a new file (about 0.2 s a test):
    `migrated`; `with_areas`, the Kemendagri areas loaded too (the `db` fixture); `populated`,
    prepared as the bot prepares its database (areas, service points, contacts) with the planted
    residents and one user of each role (the `population` fixture)."""

    migrated: Path
    with_areas: Path
    populated: Path

    @classmethod
    def build(cls, folder: Path) -> SQLiteTemplates:
        templates = cls(folder / "migrated", folder / "with_areas", folder / "populated")

        async def build() -> None:
            for path in (templates.migrated, templates.with_areas):
                conn = await dbmod.connect(path, SECRET_KEY)
                await dbmod.migrate(conn)
                if path == templates.with_areas:
                    await sync_areas(conn)
                await conn.close()  # the last connection: the WAL is folded into the file
            env = {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(templates.populated)}
            settings = Settings.from_env({**env, "SECRET_KEY": SECRET_KEY})
            await _populate(settings, folder / "siak.csv")

        with ThreadPoolExecutor(1) as thread:  # outside any event loop of the test's
            thread.submit(asyncio.run, build()).result()
        return templates

    @staticmethod
    def copy(template: Path, path: Path) -> Path:
        """The template's content as a new database file at `path` (0600 once opened)."""
        shutil.copyfile(template, path)
        return path


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> SQLiteTemplates:
    return SQLiteTemplates.build(tmp_path_factory.mktemp("sqlite-templates"))


@pytest.fixture
async def db(
    tmp_path: Path, sqlite_templates: SQLiteTemplates
) -> AsyncIterator[aiosqlite.Connection]:
    """A migrated database file with the Kemendagri areas loaded."""
    path = sqlite_templates.copy(sqlite_templates.with_areas, tmp_path / "test.sqlite3")
    conn = await dbmod.connect(path, SECRET_KEY)
    await dbmod.migrate(conn)  # nothing left to apply: checks the key
    yield conn
    await conn.close()


# --- PostgreSQL: one throwaway cluster per session, started by the first test that asks ---


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """The session's own PostgreSQL cluster (tests/pg.py); skipped where none can be had."""
    try:
        cluster = Cluster.start()
    except Unavailable as why:
        pytest.skip(str(why))
    yield cluster
    cluster.stop()


_databases = itertools.count(1)


@pytest.fixture
def pg_url(pg_cluster: Cluster, scan_postgresql) -> Iterator[str]:
    """A DATABASE_URL of a new empty database in the session's cluster, dropped after the test
    (scanned for leaked numbers first, as SQLite's files are)."""
    name = f"test_{next(_databases)}"
    yield pg_cluster.create_database(name)
    scan_postgresql(pg_cluster.socket_dsn(name), f"PostgreSQL database {name}")
    pg_cluster.drop_database(name)


MIGRATED_TEMPLATE = "migrated_template"


@pytest.fixture(scope="session")
def pg_migrated(pg_cluster: Cluster) -> str:
    """A database migrated once per session (the suite's SECRET_KEY): the template each
    `pg_migrated_url` is copied from."""
    from bot import postgres

    async def migrate(url: str) -> None:
        conn = await postgres.connect(url, SECRET_KEY)
        try:
            await postgres.migrate(conn)
        finally:
            await conn.close()

    url = pg_cluster.create_database(MIGRATED_TEMPLATE)
    with ThreadPoolExecutor(1) as thread:  # outside any event loop of the test's
        thread.submit(asyncio.run, migrate(url)).result()
    return MIGRATED_TEMPLATE


class Spares:
    """Copies of the migrated template made ahead, in a thread of their own, while tests run.

    `CREATE DATABASE ... TEMPLATE` took 0.1 s on an idle machine but about a second on a busy
    one (it copies the files and writes them to the WAL): made while the test before runs, the
    copy is ready when a test asks for it. Drops go to the same thread, after the test's scan.
    """

    AHEAD = 2  # copies kept ready

    def __init__(self, cluster: Cluster, template: str) -> None:
        self._cluster, self._template = cluster, template
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="pg-spares")
        self._ready: deque[Future[str]] = deque()

    def take(self) -> str:
        """The name of a new migrated database, the test's own."""
        while len(self._ready) <= self.AHEAD:
            self._ready.append(self._thread.submit(self._copy))
        return self._ready.popleft().result()

    def drop(self, name: str) -> None:
        self._thread.submit(self._cluster.drop_database, name)

    def close(self) -> None:
        """Wait for the copies and drops under way (the cluster stops after this)."""
        self._thread.shutdown(wait=True)

    def _copy(self) -> str:
        name = f"test_{next(_databases)}"
        self._cluster.create_database(name, template=self._template)
        return name


@pytest.fixture(scope="session")
def pg_spares(pg_cluster: Cluster, pg_migrated: str) -> Iterator[Spares]:
    spares = Spares(pg_cluster, pg_migrated)
    yield spares
    spares.close()


@pytest.fixture
def pg_migrated_url(pg_cluster: Cluster, pg_spares: Spares, scan_postgresql) -> Iterator[str]:
    """A DATABASE_URL of a new migrated database (a copy of the session's template), dropped
    after the test."""
    yield from _spare(pg_cluster, pg_spares, scan_postgresql)


POPULATED_TEMPLATE = "populated_template"
POPULATED_URLS: set[str] = set()  # the databases `pg_populated_url` gave: populated already


@pytest.fixture(scope="session")
def pg_populated_spares(
    pg_cluster: Cluster, pg_migrated: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Spares]:
    """Copies of a database migrated and populated once per session (the `population`
    fixture's residents and users, as `_populate` makes them on SQLite's template)."""
    url = pg_cluster.create_database(POPULATED_TEMPLATE, template=pg_migrated)
    env = {"BOT_TOKEN": TOKEN, "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY}
    csv_path = tmp_path_factory.mktemp("pg-population") / "siak.csv"
    with ThreadPoolExecutor(1) as thread:  # outside any event loop of the test's
        thread.submit(asyncio.run, _populate(Settings.from_env(env), csv_path)).result()
    spares = Spares(pg_cluster, POPULATED_TEMPLATE)
    yield spares
    spares.close()


@pytest.fixture
def pg_populated_url(
    pg_cluster: Cluster, pg_populated_spares: Spares, scan_postgresql
) -> Iterator[str]:
    """As `pg_migrated_url`, with the `population` fixture's residents and users in it."""
    for url in _spare(pg_cluster, pg_populated_spares, scan_postgresql):
        POPULATED_URLS.add(url)
        yield url
        POPULATED_URLS.discard(url)


def _spare(cluster: Cluster, spares: Spares, scan: Callable[[str, str], None]) -> Iterator[str]:
    name = spares.take()
    yield cluster.url(name)
    scan(cluster.socket_dsn(name), f"PostgreSQL database {name}")
    spares.drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine_db(request, tmp_path):
    """A migrated database of each engine in turn, for the storage modules that run on both
    (bot/engine.py): SQLite's file, then a new database in the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        templates = request.getfixturevalue("sqlite_templates")
        path = templates.copy(templates.migrated, tmp_path / "test.sqlite3")
        conn = await dbmod.connect(path, SECRET_KEY)
        await dbmod.migrate(conn)  # nothing left to apply: checks the key
    else:
        from bot import postgres

        conn = await postgres.connect(request.getfixturevalue("pg_migrated_url"), SECRET_KEY)
        await postgres.migrate(conn)  # nothing left to apply: checks the key, as on SQLite
    yield conn
    await conn.close()


@pytest.fixture
async def engine_areas(engine_db):
    """`engine_db` with the Kemendagri areas loaded (as `db`): residents can be imported."""
    await sync_areas(engine_db)
    return engine_db


@pytest.fixture
def connect_again(engine_db, request, tmp_path):
    """Opens another connection to `engine_db`'s database (the caller closes it); on PostgreSQL
    with `pool=N`, a pool of N connections as the running bot has (bot.postgres.open_pool)."""

    async def connect(*, pool: int | None = None):
        if not is_postgresql(engine_db):
            return await dbmod.connect(tmp_path / "test.sqlite3", SECRET_KEY)
        from bot import postgres

        url = request.getfixturevalue("pg_migrated_url")
        if pool is not None:
            return await postgres.open_pool(url, SECRET_KEY, size=pool)
        return await postgres.connect(url, SECRET_KEY)

    return connect


# --- End-to-end: the real Application over real HTTP against the local Bot API server ---


TOKEN = "123456:TEST-TOKEN"
# Tuesday 24 November 2026, 10:00 WIB. The cycle in force: cohort 31 Dec 2026, deadline 30 Apr 2027.
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
HEADER = (
    "nik,no_kk,nama,tanggal_lahir,jenis_kelamin,status_kawin,kode_desa,tanggal_rekam,status_nik"
)


@dataclass(frozen=True)
class Person:
    """A resident planted in the test population."""

    nik: str
    kk: str
    nama: str
    born: date
    sex: str
    kawin: str
    desa: str
    rekam: str
    status: str

    def row(self) -> list[str]:
        born = self.born.isoformat()
        return [
            self.nik,
            self.kk,
            self.nama,
            born,
            self.sex,
            self.kawin,
            self.desa,
            self.rekam,
            self.status,
        ]


KK_SANTOSO = "3505100101080001"
KK_LESTARI = "3505030202100002"


def _person(
    nama, born, sex, *, kk, serial, kawin="BELUM KAWIN", rekam="", status="AKTIF", kec="350510"
):
    desa = "35.05.10.2001" if kec == "350510" else "35.05.03.2001"
    nik = make_nik(kec, born, sex, serial)
    return Person(nik, kk, nama, born, sex, kawin, desa, rekam, status)


PEOPLE = {
    "recorded": _person("Budi Santoso", date(1980, 5, 12), "L", kk=KK_SANTOSO, serial=1,
                        kawin="KAWIN", rekam="2013-03-01"),
    "mother": _person("Sri Wahyuni", date(1983, 8, 20), "P", kk=KK_SANTOSO, serial=2,
                      kawin="KAWIN", rekam="2014-01-10"),
    "turning17": _person("Dewi Santoso", date(2009, 12, 15), "P", kk=KK_SANTOSO, serial=3),
    "child": _person("Adi Santoso", date(2014, 6, 1), "L", kk=KK_SANTOSO, serial=4),
    "unrecorded": _person("Rudi Lestari", date(2008, 2, 10), "L", kk=KK_LESTARI, serial=5,
                          kec="350503"),
    "deactivated": _person("Ani Lestari", date(2006, 3, 3), "P", kk=KK_LESTARI, serial=6,
                           status="NONAKTIF", kec="350503"),
}  # fmt: skip

STAFF_ID, OFFICIAL_ID, ADMIN_ID = 9001, 9002, 9003


def write_population(path, people=None):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER.split(","))
        for person in people if people is not None else PEOPLE.values():
            writer.writerow(person.row())
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def botapi() -> AsyncIterator[BotApiServer]:
    """The local Bot API server; a test fails if the bot sent it any invalid request."""
    async with BotApiServer(token=TOKEN) as server:
        yield server
        assert server.errors == [], f"the bot made invalid Bot API calls: {server.errors}"


# --- Which engine the end-to-end bot runs on (`settings`): --engines, or a test's marker ---

ENGINES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engines",
        default="sqlite",
        help="comma-separated engines the end-to-end bot (the `settings` fixture) runs on, each"
        " test once per engine: sqlite, postgresql (a database copied from the session's"
        " migrated template). Tests marked `engines(...)` run on theirs whatever this says",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "engines(*names): the engines this test's bot runs on whatever --engines says",
    )
    engines = tuple(name.strip() for name in config.getoption("--engines").split(",") if name)
    unknown = set(engines) - set(ENGINES)
    if unknown or not engines:
        raise pytest.UsageError(f"--engines takes {', '.join(ENGINES)}, got {sorted(unknown)}")
    config.stash[_ENGINES] = engines


_ENGINES = pytest.StashKey[tuple[str, ...]]()


# --- The order files reach pytest-xdist's workers (`make test`: --dist loadfile) ---

# The files that take minutes, longest first: each goes to a worker at the start, so that no
# worker is left alone with one of them at the end while the other idles. xdist's own order
# (most tests first, `--loadscope-reorder`) put the single three-worker test last.
SLOW_FILES = (
    "tests/e2e/test_fuzz.py",
    "tests/workers/test_under_load.py",
    "tests/delivery/test_crash.py",
    "tests/delivery/test_restart_conversations.py",
    "tests/security/test_hostile_chats.py",
    "tests/delivery/test_stop.py",
    "tests/sandbox/test_api.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow files first, then the others by their number of tests (what xdist's reorder
    did): make test passes --no-loadscope-reorder so that xdist keeps this order."""
    files = Counter(item.nodeid.split("::")[0] for item in items)
    rank = {name: n for n, name in enumerate(SLOW_FILES)}

    def order(item: pytest.Item) -> tuple[int, int]:
        name = item.nodeid.split("::")[0]
        return rank.get(name, len(SLOW_FILES)), -files[name]

    items.sort(key=order)  # stable: a file's tests keep their order


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test whose bot runs on an engine (it asks for `settings`), once per engine: a
    test id names it (`[postgresql]`) unless only SQLite, the default, is selected."""
    if "engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    engines = marker.args if marker else metafunc.config.stash[_ENGINES]
    if tuple(engines) != ("sqlite",):
        metafunc.parametrize("engine", engines, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The engine of this test's bot: sqlite or postgresql (pytest_generate_tests)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def settings(
    botapi: BotApiServer, tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> Settings:
    env = {
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": botapi.base_url,
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "SECRET_KEY": SECRET_KEY,
        # Behaviour tests run without Telegram's pacing (1 message a second per chat would
        # only slow them down); tests/delivery/test_pacer.py and the delivery tests pace.
        "SEND_RATE": "0",
    }
    if engine == "postgresql":  # populated ahead when the test asks for `population`
        populated = "population" in request.fixturenames
        url = "pg_populated_url" if populated else "pg_migrated_url"
        env["DATABASE_URL"] = request.getfixturevalue(url)
    return Settings.from_env(env)


@pytest.fixture
async def population(settings: Settings, tmp_path: Path, request) -> dict[str, Person]:
    """The planted residents imported through the real importer, plus one user of each role
    (on SQLite a copy of the worker's `populated` template, made the same way)."""
    if settings.database_url in POPULATED_URLS and settings.secret_key == SECRET_KEY:
        write_population(tmp_path / "siak.csv")  # the file imported, for the tests that read it
        return PEOPLE
    fresh = not settings.database_path.exists() and settings.secret_key == SECRET_KEY
    if settings.database_url or not fresh:
        await _populate(settings, tmp_path / "siak.csv")
        return PEOPLE
    write_population(tmp_path / "siak.csv")
    templates = request.getfixturevalue("sqlite_templates")
    SQLiteTemplates.copy(templates.populated, settings.database_path)
    return PEOPLE


async def _populate(settings: Settings, csv_path: Path) -> None:
    conn = await prepare_database(settings)
    report = await import_residents(conn, write_population(csv_path), now=NOW)
    assert report.rejected == []
    await add_user(conn, STAFF_ID, "staff", service_point="kanigoro", area=None, now=NOW)
    await add_user(conn, OFFICIAL_ID, "official", service_point=None, area="35.05.10", now=NOW)
    await add_user(conn, ADMIN_ID, "admin", service_point=None, area=None, now=NOW)
    await conn.close()


@asynccontextmanager
async def serve(settings: Settings, clock: FixedClock) -> AsyncIterator[Application]:
    """Start the real Application polling the local Bot API server; stop it on exit."""
    app = build_application(settings, clock=clock)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()


@pytest.fixture
async def running_bot(settings, population, clock, botapi):
    """The real Application, polling the local Bot API server over HTTP."""
    conn = await open_database(settings)
    for role_user in (STAFF_ID, OFFICIAL_ID, ADMIN_ID):
        botapi.user(role_user)  # they have opened a chat with the bot
        await note_chat(conn, role_user, locale="id", now=NOW)  # and the bot knows it
    await conn.close()
    async with serve(settings, clock) as app:
        yield app
