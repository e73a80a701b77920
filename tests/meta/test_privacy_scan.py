"""The NIK/KK leak scan (tests/privacy_scan.py) fails a run that leaks and passes one that masks.

Each case runs pytest in a subprocess on a few small tests with the plugin loaded, so that what
those tests log or send never reaches this session's own scan.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
NIK = "3505101205800001"  # a literal of a test module: part of the sample

LEAKY = f'''
import logging
import sqlite3
from contextlib import closing

from botapi import Simulation, default_spec

NIK = "{NIK}"


def test_logs_a_nik():
    logging.getLogger("bot.handlers.check").info("checked NIK %s", NIK)


def test_logs_under_a_handler_named_with_a_nik():
    from bot.logs import HANDLER

    HANDLER.set(f"check.{{NIK}}")  # only the JSON line (LOG_FORMAT=json) carries the handler
    logging.getLogger("bot.handlers.check").info("checked")
    HANDLER.set(None)


def test_sends_a_kk_read_from_a_csv(tmp_path):
    kk = "".join(["3505", "1001", "0108", "0009"])  # sample only because the CSV holds it
    (tmp_path / "siak.csv").write_text(f"nik,no_kk\\n{{NIK}},{{kk}}\\n")
    text = f"KK {{kk[:4]}} {{kk[4:8]}} {{kk[8:12]}} {{kk[12:]}}"  # in groups: still the number
    Simulation(default_spec(), "1:x").record_request("sendMessage", {{"chat_id": 5, "text": text}})


def test_audits_a_typed_nik(tmp_path):
    typed = "35051012058" + "00002"  # sample only because a user typed it
    sim = Simulation(default_spec(), "1:x")
    sim.add_user(7, "Ani").send_text(f"/cek {{typed}}")
    with closing(sqlite3.connect(tmp_path / "bot.sqlite3")) as conn, conn:
        conn.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, action TEXT, detail TEXT)")
        conn.execute("INSERT INTO audit_log (action, detail) VALUES ('check', ?)", (typed,))


def test_logs_an_exception_carrying_a_nik():
    try:
        raise LookupError(f"no resident {{NIK}}")
    except LookupError:
        logging.getLogger("telegram.ext.Application").exception("handler failed")
'''

CLEAN = f'''
import logging
import sqlite3
from contextlib import closing

from botapi import Simulation, default_spec
from bot.nik import mask_number

NIK = "{NIK}"


def test_masked_everywhere(tmp_path):
    logging.getLogger("bot.handlers.check").warning("checked NIK %s", mask_number(NIK))
    sim = Simulation(default_spec(), "1:x")
    sim.add_user(7, "Ani").send_text(f"/cek {{NIK}}")  # what the bot receives is no output
    sim.record_request("sendMessage", {{"chat_id": 7, "text": f"NIK {{mask_number(NIK)}}"}})
    with closing(sqlite3.connect(tmp_path / "bot.sqlite3")) as conn, conn:
        conn.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, action TEXT, detail TEXT)")
        conn.execute("INSERT INTO audit_log (action, detail) VALUES ('check', ?)", (NIK[:4],))


def test_library_debug_lines_and_other_numbers_are_not_reported():
    # A library's DEBUG line is not written where the bot runs (INFO), and a 16-digit number
    # that is no test data (an id, a timestamp) is not a NIK.
    logging.getLogger("telegram.ext.Updater").debug("update: /cek %s", NIK)
    logging.getLogger("bot.jobs").info("job %s", 10**15 + 4242)


def test_caplog_sees_what_it_saw_without_the_scan(caplog):
    logging.getLogger("bot.jobs").info("bot info")
    logging.getLogger("telegram.ext").info("library info")
    logging.getLogger("bot.jobs").debug("bot debug")
    assert caplog.messages == []  # the root logger's WARNING, as without the plugin
    caplog.set_level(logging.INFO)
    logging.getLogger("bot.jobs").info("bot info")
    logging.getLogger("bot.jobs").debug("bot debug")
    assert caplog.messages == ["bot info"]
'''


# Two test files that pytest-xdist's `--dist loadfile` sends to two workers: a number one of
# them sees typed, the other sends. Each writes down its worker, to show they were two.
TYPED_HERE = """
import os
from botapi import Simulation, default_spec

def test_a_user_types_a_nik():
    typed = "35051012058" + "00003"  # sample only because a user typed it, on this worker
    Simulation(default_spec(), "1:x").add_user(7, "Ani").send_text(f"/cek {typed}")
    worker = os.environ["PYTEST_XDIST_WORKER"]
    open(os.path.join(os.environ["WORKERS_SEEN"], f"typed-{worker}"), "w").close()
"""
SENT_THERE = """
import os
from botapi import Simulation, default_spec

def test_the_bot_sends_it():
    nik = "35051012058" + "00003"
    Simulation(default_spec(), "1:x").record_request("sendMessage", {"chat_id": 7, "text": nik})
    worker = os.environ["PYTEST_XDIST_WORKER"]
    open(os.path.join(os.environ["WORKERS_SEEN"], f"sent-{worker}"), "w").close()
"""


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tests: str, *args: str):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest('pytest_plugins = ["tests.privacy_scan"]\n')
    if tests == "two workers":
        pytester.makepyfile(test_typed=TYPED_HERE, test_sent=SENT_THERE)
    else:
        pytester.makepyfile(test_sample=tests)
    try:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=110)
    finally:  # what the inner tests left must not meet this session's own scan
        shutil.rmtree(pytester.path, ignore_errors=True)


def test_a_leak_in_a_log_a_request_an_audit_row_or_a_traceback_fails_the_run(pytester, monkeypatch):
    result = run(pytester, monkeypatch, LEAKY)
    output = result.stdout.str()
    result.assert_outcomes(passed=5)  # every test passed, yet the run fails:
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "3 full NIK or KK number(s) of the test data were sent, logged or audited" in output
    result.stdout.fnmatch_lines(
        [  # by number; each with where it came from, then where it was found and in which test
            "3505********0009 (CSV file *siak.csv):",
            "*Bot API request sendMessage to chat 5, in *::test_sends_a_kk_read_from_a_csv",
            '*text: "KK 3505********0009"*',
            "3505********0001 (*):",
            "*log record bot.handlers.check INFO, in test_sample.py::test_logs_a_nik",
            "*checked NIK 3505********0001*",
            "*log record bot.handlers.check INFO, in *::test_logs_under_a_handler_named_with_a_nik",
            '*"handler": "check.3505********0001"*',
            "*log record telegram.ext.Application ERROR, in *::test_logs_an_exception_carrying*",
            "*LookupError: no resident 3505********0001*",
            "3505********0002 (typed by a simulated user):",
            "*audit_log row 1 of *bot.sqlite3, in test_sample.py::test_audits_a_typed_nik",
            "*| check | 3505********0002*",
            "NIK/KK leak scan: * looked for in 1 Bot API requests, 1 audit_log rows, "
            "1 databases, * log records: 3 leaked",
            "*5 passed, 3 NIK/KK leaks*",
        ]
    )
    for number in (NIK, "3505101205800002", "3505100101080009", "3505 1001 0108 0009"):
        assert number not in output  # the report masks what it found


def test_a_number_typed_on_one_xdist_worker_and_sent_on_another_fails_the_run(
    pytester, monkeypatch, tmp_path
):
    monkeypatch.setenv("WORKERS_SEEN", str(tmp_path))
    result = run(pytester, monkeypatch, "two workers", "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert sorted(p.name for p in tmp_path.iterdir()) in (
        ["sent-gw0", "typed-gw1"],
        ["sent-gw1", "typed-gw0"],
    )  # on two workers
    result.stdout.fnmatch_lines(
        [
            "3505********0003 (typed by a simulated user):",
            "*Bot API request sendMessage to chat 7, in test_sent.py::test_the_bot_sends_it",
            "NIK/KK leak scan: * looked for in 1 Bot API requests*: 1 leaked",
            "*2 passed, 1 NIK/KK leaks*",
        ]
    )


def test_masked_numbers_pass(pytester, monkeypatch):
    result = run(pytester, monkeypatch, CLEAN)
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "NIK/KK leak scan: * looked for in 1 Bot API requests, 1 audit_log rows, "
            "1 databases, * log records: none leaked",
            "*3 passed in*",
        ]
    )
    assert "NIK/KK leak scan (" not in result.stdout.str()  # no report section
