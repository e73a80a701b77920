"""pytest plugin: no full NIK or KK number of the test data leaves the bot (issue 6).

For the whole session it gathers

- the *sample*, every 16-digit number the tests feed the bot: the literals in the project's
  modules (tests/ and bot/) and the 16-digit strings in their module-level data (the planted
  people), every number `bot.nik.make_nik` built, every number in a CSV file the tests wrote (the
  SIAK exports, generated populations included) and every number a simulated user typed;
- the *outputs*: every log record (message and exception text; the `bot` loggers from DEBUG,
  every other logger from INFO, the level the bot runs at), as a text line and as the JSON line
  LOG_FORMAT=json writes (bot/logs.py), what a test's `dukcapil-bot` subprocess wrote to its
  stdout and stderr (handed over with the `scan_process_output` fixture), every request any
  local Bot API server received (texts, buttons, captions, uploaded files such as CSV downloads)
  and the rows of `audit_log` and the texts, errors and keys of `outbox` in every SQLite file of
  the tests' temporary directories.

At the end of the session the run fails if a sample number is in an output, whether written
in one piece or in groups (`3505 1012 0580 0001`); the report masks it and says where it was
found and in which test. Masked forms (`3505********0001`) are what the bot should write.

Under pytest-xdist (`make test` runs `pytest -n 2`) each worker gathers its own sample and
outputs and hands them to the controller when it finishes; the controller judges them together
(a number one worker's test typed is a leak where another worker's test sent it) and fails the
run.

pytest's own log capture (caplog, the report's "Captured log") sees what it saw without the
plugin: the levels are lowered to odd values (INFO - 1, DEBUG - 1) and a filter on pytest's
handlers drops the records that exist only because of that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import bot.nik
from bot.logs import JsonFormatter
from botapi import Simulation, UploadedFile

# 16 digits, written in one piece or in groups split by one space, dot or dash.
NUMBER = re.compile(r"(?<![0-9])[0-9](?:[ .\-\u00a0\u2009\u202f]?[0-9]){15}(?![0-9])")
SCAN_ROOT_LEVEL = logging.INFO - 1  # every library at the level the bot runs at (bot/cli.py)
SCAN_BOT_LEVEL = logging.DEBUG - 1  # the bot's own loggers at every level
OUTPUT_COLUMNS = {  # table -> the columns that hold what the bot wrote (None: all of them)
    "audit_log": None,
    "outbox": ("idempotency_key", "text", "reply_markup", "error"),
}
SKIPPED_UPDATE_KEYS = frozenset(
    {"reply_to_message", "pinned_message", "external_reply", "quote", "data"}
)  # the bot's own messages and button data echoed back: not something a user typed
PLACES_PER_NUMBER = 5
SQLITE_HEADER = b"SQLite format 3\x00"
NO_TEST = "(outside any test)"


def mask(number: str) -> str:
    return number[:4] + "*" * 8 + number[-4:]


def numbers_in(text: str) -> Iterator[str]:
    """The 16-digit numbers in a text, separators removed."""
    for match in NUMBER.finditer(text):
        yield re.sub(r"[^0-9]", "", match.group())


def masked_excerpt(text: str, start: int, end: int, width: int = 60) -> str:
    excerpt = text[max(0, start - width) : end + width]
    excerpt = NUMBER.sub(lambda m: mask(re.sub(r"[^0-9]", "", m.group())), excerpt)
    return " ".join(excerpt.split())


@dataclasses.dataclass(frozen=True)
class Place:
    """Where an output carried a number."""

    where: str
    test: str
    excerpt: str


class PrivacyScan:
    """The sample and the numbers seen in outputs, for one session."""

    def __init__(self, rootpath: Path) -> None:
        self.rootpath = rootpath
        self.sample: dict[str, str] = {}  # number -> where it came from first
        self.seen: dict[str, list[Place]] = {}  # number in an output -> the first places
        self.test = NO_TEST
        self.scanned: set[Path] = set()
        self.notes: list[str] = []
        self.leaks: list[str] = []  # the report's lines
        self.leaked = 0
        self.counts: Counter[str] = Counter()  # what was scanned, for the summary line
        self.basetemp: Path | None = None
        self.levels: dict[str, tuple[int, int]] = {}  # logger -> (the scan's level, the one before)
        self._undo: list[Callable[[], None]] = []
        self._started = False

    # ----- gathering -----

    def add_sample(self, text: str, origin: str) -> None:
        for number in numbers_in(text):
            self.sample.setdefault(number, origin)

    def output(self, text: str, where: str, kind: str) -> None:
        self.counts[kind] += 1
        for match in NUMBER.finditer(text):
            number = re.sub(r"[^0-9]", "", match.group())
            places = self.seen.setdefault(number, [])
            if len(places) < PLACES_PER_NUMBER:
                excerpt = masked_excerpt(text, match.start(), match.end())
                places.append(Place(where, self.test, excerpt))

    def watch_botapi(self, direction: str, name: str, payload: dict[str, Any]) -> None:
        if direction == "update":
            for text in _user_strings(payload):
                self.add_sample(text, "typed by a simulated user")
            return
        chat = f" to chat {payload['chat_id']}" if "chat_id" in payload else ""
        self.output(_request_text(payload), f"Bot API request {name}{chat}", "Bot API requests")

    def scan_tree(self, directory: Path, test: str) -> None:
        """The CSV files (sample) and SQLite files (outputs) under a temporary directory."""
        if not directory.is_dir():
            return
        for path in sorted(directory.rglob("*")):
            if path in self.scanned or not path.is_file():
                continue
            self.scanned.add(path)
            shown = _shown(path, self.basetemp or self.rootpath)
            if path.suffix.lower() == ".csv":
                self.add_sample(path.read_text("utf-8", errors="replace"), f"CSV file {shown}")
            elif _is_sqlite(path):
                self._scan_database(path, shown, test)

    def _scan_database(self, path: Path, shown: str, test: str) -> None:
        previous, self.test = self.test, test
        self.counts["databases"] += 1
        try:
            with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
                tables = {
                    name
                    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                for table in sorted(tables & OUTPUT_COLUMNS.keys()):
                    existing = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
                    wanted = OUTPUT_COLUMNS[table]
                    columns = [c for c in existing if wanted is None or c in wanted]
                    if not columns:
                        continue
                    # A sealed value is bound to its row (bot/crypto.py): a message to its chat.
                    bound = "chat_id" if "chat_id" in existing else "rowid"
                    query = f"SELECT rowid, {bound}, {', '.join(columns)} FROM {table}"
                    for rowid, row, *values in conn.execute(query):
                        places = (f"{table}.{column}" for column in columns)
                        text = " | ".join(
                            _readable(v, p, row) for v, p in zip(values, places, strict=True)
                        )
                        self.output(text, f"{table} row {rowid} of {shown}", f"{table} rows")
        except sqlite3.Error as error:
            self.notes.append(f"could not read {shown}: {error}")
        finally:
            self.test = previous

    def scan_postgresql(self, dsn: str, shown: str, test: str) -> None:
        """The same tables and columns in a PostgreSQL database of the tests (before its drop)."""
        import psycopg

        previous, self.test = self.test, test
        self.counts["databases"] += 1
        try:
            with psycopg.connect(dsn) as conn:
                for table, wanted in sorted(OUTPUT_COLUMNS.items()):
                    existing = [
                        name
                        for (name,) in conn.execute(
                            "SELECT column_name FROM information_schema.columns WHERE table_schema"
                            " = 'public' AND table_name = %s ORDER BY ordinal_position",
                            (table,),
                        )
                    ]
                    columns = [c for c in existing if wanted is None or c in wanted]
                    if not columns:
                        continue
                    bound = "chat_id" if "chat_id" in existing else "id"
                    query = f"SELECT id, {bound}, {', '.join(columns)} FROM {table}"
                    for rowid, row, *values in conn.execute(query):
                        places = (f"{table}.{column}" for column in columns)
                        text = " | ".join(
                            _readable(v, p, row) for v, p in zip(values, places, strict=True)
                        )
                        self.output(text, f"{table} row {rowid} of {shown}", f"{table} rows")
        except psycopg.Error as error:
            self.notes.append(f"could not read {shown}: {error}")
        finally:
            self.test = previous

    def scan_modules(self) -> None:
        """The 16-digit literals and module-level data of the project's own modules."""
        for module in list(sys.modules.values()):
            path = _project_file(module, self.rootpath)
            if path is None:
                continue
            shown = _shown(path, self.rootpath)
            with contextlib.suppress(OSError):
                self.add_sample(path.read_text("utf-8"), f"literal in {shown}")
            data = {k: v for k, v in vars(module).items() if not k.startswith("__")}
            for text in _strings_in(data):
                self.add_sample(text, f"data of {module.__name__}")

    # ----- across pytest-xdist's workers -----

    def handed_over(self) -> dict[str, Any]:
        """What a worker gathered, as plain data for the controller (execnet sends it)."""
        return {
            "sample": self.sample,
            "seen": {n: [dataclasses.astuple(p) for p in ps] for n, ps in self.seen.items()},
            "counts": dict(self.counts),
            "notes": self.notes,
        }

    def take_over(self, gathered: dict[str, Any]) -> None:
        """Merge a worker's `handed_over` into this (the controller's) scan."""
        for number, origin in gathered["sample"].items():
            self.sample.setdefault(number, origin)
        for number, places in gathered["seen"].items():
            mine = self.seen.setdefault(number, [])
            mine += [Place(*p) for p in places][: PLACES_PER_NUMBER - len(mine)]
        self.counts.update(gathered["counts"])
        self.notes += gathered["notes"]

    # ----- the verdict -----

    def judge(self) -> None:
        """The report's lines for every sample number found in an output."""
        leaked = sorted(number for number in self.seen if number in self.sample)
        self.leaked = len(leaked)
        for number in leaked:
            self.leaks.append(f"{mask(number)} ({self.sample[number]}):")
            for place in self.seen[number]:
                self.leaks.append(f"    {place.where}, in {place.test}")
                self.leaks.append(f"        ...{place.excerpt}...")

    # ----- setting up and tearing down -----

    def start(self, config: pytest.Config) -> None:
        """Watch the Bot API servers and the logs, for the rest of the session."""
        if self._started:
            return
        self._started = True
        Simulation.watchers.append(self.watch_botapi)
        self._undo.append(lambda: Simulation.watchers.remove(self.watch_botapi))
        handler = _ScanHandler(self)
        root = logging.getLogger()
        root.addHandler(handler)
        self._undo.append(lambda: root.removeHandler(handler))
        self.lower_levels()
        self._undo.append(self.restore_levels)
        as_before = _AsBefore(self)
        logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
        for name in ("caplog_handler", "report_handler", "log_cli_handler", "log_file_handler"):
            pytest_handler = getattr(logging_plugin, name, None)
            if isinstance(pytest_handler, logging.Handler):
                pytest_handler.addFilter(as_before)
                self._undo.append(functools.partial(pytest_handler.removeFilter, as_before))

    def lower_levels(self) -> None:
        """Let the records the scan needs be made (again, if a test raised a level for good)."""
        for name, level in (("root", SCAN_ROOT_LEVEL), ("bot", SCAN_BOT_LEVEL)):
            logger = logging.getLogger(name)
            unset = logger.level == logging.NOTSET and logger is not logging.getLogger()
            if unset or logger.level > level:
                self.levels[name] = (level, logger.level)
                logger.setLevel(level)

    def restore_levels(self) -> None:
        for name, (level, before) in self.levels.items():
            logger = logging.getLogger(name)
            if logger.level == level:
                logger.setLevel(before)

    def stop(self) -> None:
        while self._undo:
            self._undo.pop()()


class _ScanHandler(logging.Handler):
    """Every log record, as the text a log line would carry (the traceback included), and as
    the JSON line of LOG_FORMAT=json (with the update id and handler it carries)."""

    def __init__(self, scan: PrivacyScan) -> None:
        super().__init__(logging.NOTSET)
        self.scan = scan
        self.setFormatter(logging.Formatter("%(message)s"))
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken format string is still a line someone would read
            text = f"{record.msg} {record.args!r}"
        with contextlib.suppress(Exception):  # the text above has the message already
            text = f"{text}\n{self.json.format(record)}"
        self.scan.output(text, f"log record {record.name} {record.levelname}", "log records")


class _AsBefore(logging.Filter):
    """For pytest's handlers: only the records that would exist without the scan's levels."""

    def __init__(self, scan: PrivacyScan) -> None:
        super().__init__()
        self.scan = scan

    def filter(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            level = logger.level
            scan_level, before = self.scan.levels.get(logger.name, (None, 0))
            if level == scan_level:
                level = before
            if level:
                return record.levelno >= level
            logger = logger.parent
        return True


def _user_strings(update: Any) -> Iterator[str]:
    if isinstance(update, dict):
        for key, value in update.items():
            skipped = key in SKIPPED_UPDATE_KEYS or (key == "message" and "chat_instance" in update)
            if not skipped:
                yield from _user_strings(value)
    elif isinstance(update, list):
        for item in update:
            yield from _user_strings(item)
    elif isinstance(update, str):
        yield update


def _request_text(params: dict[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        if isinstance(value, UploadedFile):
            parts.append(f"{key}: {value.data.decode('utf-8', errors='replace')}")
        else:
            parts.append(f"{key}: {json.dumps(value, ensure_ascii=False, default=str)}")
    return "\n".join(parts)


def _strings_in(value: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[str]:
    """The strings in plain data (dicts, sequences, dataclass instances), a few levels deep."""
    seen = set() if seen is None else seen
    if isinstance(value, str):
        if len(value) >= 16:
            yield value
        return
    if depth > 4 or id(value) in seen or isinstance(value, ModuleType | type):
        return
    seen.add(id(value))
    items: Iterable[Any] = ()
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    elif dataclasses.is_dataclass(value):
        items = [getattr(value, f.name, None) for f in dataclasses.fields(value)]
    for item in items:
        yield from _strings_in(item, depth + 1, seen)


def _project_file(module: ModuleType, rootpath: Path) -> Path | None:
    """The source file of a module of the project itself (not of a library)."""
    file = getattr(module, "__file__", None)
    if not file or not file.endswith(".py"):
        return None
    path = Path(file).resolve()
    if not path.is_relative_to(rootpath):
        return None
    parts = path.relative_to(rootpath).parts
    if any(part.startswith(".") or part in ("site-packages", "venv") for part in parts):
        return None
    return path


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _shown(path: Path, base: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(base))
    return str(path)


# ----- make_nik: every number it builds is sample -----


def _record_make_nik(scan: PrivacyScan) -> Callable[[], None]:
    """Have `bot.nik.make_nik` (also where already imported) add its results to the sample."""
    original = bot.nik.make_nik

    @functools.wraps(original)
    def make_nik(*args: Any, **kwargs: Any) -> str:
        number = original(*args, **kwargs)
        scan.sample.setdefault(number, "built by make_nik()")
        return number

    patched = [
        module
        for module in list(sys.modules.values())
        if getattr(module, "make_nik", None) is original
        and _project_file(module, scan.rootpath) is not None
    ]
    for module in patched:
        module.make_nik = make_nik  # type: ignore[attr-defined]

    def undo() -> None:
        for module in patched:
            if getattr(module, "make_nik", None) is make_nik:
                module.make_nik = original  # type: ignore[attr-defined]

    return undo


# ----- the hooks -----

_KEY = pytest.StashKey[PrivacyScan]()


def _scan(config: pytest.Config) -> PrivacyScan:
    return config.stash[_KEY]


def pytest_configure(config: pytest.Config) -> None:
    scan = PrivacyScan(config.rootpath.resolve())
    config.stash[_KEY] = scan
    scan._undo.append(_record_make_nik(scan))


def pytest_sessionstart(session: pytest.Session) -> None:
    _scan(session.config).start(session.config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    scan = _scan(item.config)
    scan.start(item.config)  # when this plugin came with a conftest loaded late
    scan.lower_levels()
    scan.test = item.nodeid
    try:
        return (yield)
    finally:
        scan.test = NO_TEST


@pytest.fixture(autouse=True)
def _privacy_scan_files(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """After each test (its fixtures closed), the files in its tmp_path; remembers the base."""
    scan = _scan(request.config)
    scan.basetemp = tmp_path_factory.getbasetemp()
    # Requested here, tmp_path is torn down after this fixture: the files are still there.
    tmp_path = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp_path is not None:
        scan.scan_tree(tmp_path, request.node.nodeid)


@pytest.fixture
def scan_postgresql(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """`scan_postgresql(dsn, shown)`: what the test left in a PostgreSQL database of its own,
    scanned as its SQLite files are (before the database is dropped)."""
    scan = _scan(request.config)

    def scan_database(dsn: str, shown: str) -> None:
        scan.scan_postgresql(dsn, shown, request.node.nodeid)

    return scan_database


@pytest.fixture
def scan_process_output(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """`scan_process_output(text, where)`: what a subprocess of the test wrote (its log lines,
    text or JSON) is an output too."""
    scan = _scan(request.config)

    def scan_text(text: str, where: str) -> None:
        scan.output(text, where, "process output")

    return scan_text


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """On pytest-xdist's controller: what a finished worker gathered (none if it crashed, and
    then the run has failed already)."""
    gathered = getattr(node, "workeroutput", {}).get("privacy_scan")
    if gathered is not None:
        _scan(node.config).take_over(gathered)
    elif error is None:
        _scan(node.config).notes.append(f"worker {node.gateway.id} handed over no scan")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    scan = _scan(session.config)
    if scan.basetemp is not None:  # what module- and session-scoped fixtures left there
        scan.scan_tree(scan.basetemp, "a fixture shared by several tests")
    scan.scan_modules()
    scan.stop()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller judges
        workeroutput["privacy_scan"] = scan.handed_over()
        return
    scan.judge()
    if scan.leaked and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    scan = _scan(terminalreporter.config)
    if scan.leaked:
        terminalreporter.section("NIK/KK leak scan (tests/privacy_scan.py)", red=True, bold=True)
        terminalreporter.write_line(
            f"{scan.leaked} full NIK or KK number(s) of the test data were sent, logged or "
            "audited:",
            red=True,
        )
        for line in scan.leaks:
            terminalreporter.write_line(line)
        # Counted in the last line ("N passed, 2 NIK/KK leaks"), as reports other plugins read.
        leaks = [SimpleNamespace(count_towards_summary=True) for _ in range(scan.leaked)]
        terminalreporter.stats.setdefault("NIK/KK leaks", []).extend(leaks)
    for note in scan.notes:
        terminalreporter.write_line(f"NIK/KK leak scan: {note}", yellow=True)
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(scan.counts.items()))
    verdict = f"{scan.leaked} leaked" if scan.leaked else "none leaked"
    terminalreporter.write_line(
        f"NIK/KK leak scan: {len(scan.sample)} numbers of the test data looked for in "
        f"{counts or 'no output'}: {verdict}"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    _scan(config).stop()


def _readable(value: object, place: str, row: object) -> str:
    """A column's value as text; a sealed one (outbox texts) opened with the tests' SECRET_KEY,
    so what the bot would send is scanned too. One sealed under another key stays unread."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        from bot.crypto import Vault, WrongKey
        from tests.conftest import SECRET_KEY

        vault = Vault.from_secret(SECRET_KEY)
        try:
            return vault.open(value, place, row)  # type: ignore[arg-type]
        except (WrongKey, ValueError):
            pass
        try:
            return vault.open_v1(value)  # a database stopped before migration 0015
        except (WrongKey, ValueError):
            return ""
    return str(value)
