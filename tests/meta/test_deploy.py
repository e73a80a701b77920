"""deploy/: the systemd unit starts the real command, hardened; the environment example holds
every setting the bot reads and nothing else; nginx forwards the webhook's path to its port."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

from dotenv import dotenv_values

from bot.config import Settings
from tests.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / "env.example"
# Every setting: the names bot/config.py reads (as tests/meta/test_settings.py finds them).
READ = set(re.findall(r'"([A-Z][A-Z_]{3,})"', (ROOT / "bot" / "config.py").read_text()))


def unit() -> dict[str, list[str]]:
    """The [Service] section of the unit: each key with its values, in order."""
    section, found = "", {}
    for line in (DEPLOY / "dukcapil-bot.service").read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def example(*, commented: bool) -> dict[str, str]:
    """NAME=value lines of the environment example: the set ones, or those commented out."""
    pattern = re.compile(r"#([A-Z][A-Z_]+)=(.*)" if commented else r"([A-Z][A-Z_]+)=(.*)")
    lines = EXAMPLE.read_text().splitlines()
    return dict(m.groups() for line in lines if (m := pattern.fullmatch(line)))


def test_the_unit_starts_the_installed_dukcapil_bot_run(tmp_path):
    (command,) = unit()["ExecStart"]
    argv = shlex.split(command)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    program = PurePosixPath(argv[0])
    assert scripts[program.name] == "bot.cli:main"
    assert program.parent.parts[-2:] == (".venv", "bin")  # where `make install` puts it
    installed = Path(sys.executable).parent / program.name  # this checkout's own
    result = subprocess.run(
        [str(installed), *argv[1:]],
        env={**os.environ, "BOT_TOKEN": "", "DATABASE_PATH": str(tmp_path / "d.sqlite3")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "configuration error: BOT_TOKEN is not set. Put the token from @BotFather in the "
        "environment or in a .env file (BOT_TOKEN=123456:ABC...).",
    )  # what `run` answers first; any other subcommand would not ask for the token


def test_the_unit_restarts_on_failure_and_is_hardened():
    service = unit()
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]  # a refusal: a restart cannot cure it
    assert service["User"] != ["root"]
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == [value], key


def test_the_bot_may_write_its_database_and_backups_and_nothing_else():
    service, settings = unit(), example(commented=False)
    writable = {PurePosixPath(p) for v in service["ReadWritePaths"] for p in v.split()}
    database = PurePosixPath(settings["DATABASE_PATH"])
    assert writable == {database.parent, PurePosixPath(settings["BACKUP_DIR"])}
    assert service["WorkingDirectory"] == [str(database.parent)]
    assert service["StateDirectory"] == [database.parent.name]  # systemd makes it, the bot's


def test_the_environment_example_holds_every_setting_the_bot_reads_and_no_other():
    named = set(example(commented=False)) | set(example(commented=True))
    assert named - READ == set(), "in deploy/env.example but not read by bot/config.py"
    assert READ - named == set(), "read by bot/config.py but missing from deploy/env.example"


def test_the_example_is_valid_and_its_commented_lines_show_the_defaults():
    given = {k: v for k, v in example(commented=False).items() if v} | {
        "BOT_TOKEN": "123456:ABC",
        "SECRET_KEY": SECRET_KEY,  # else a key file would be made in /var/lib
    }
    shown = {
        k: v for k, v in example(commented=True).items() if v and k not in ("WEBHOOK_URL",)
    }  # WEBHOOK_URL's is an example address, not its default (empty: long polling)
    assert Settings.from_env(given | shown) == Settings.from_env(given)
    assert dotenv_values(EXAMPLE)["BOT_TOKEN"] == ""  # never a real token in the example


def test_nginx_forwards_the_webhook_path_to_the_bots_port():
    conf = (DEPLOY / "nginx-webhook.conf").read_text()
    shown = example(commented=True)
    path = "/" + shown["WEBHOOK_URL"].split("://", 1)[1].split("/", 1)[1]
    host = shown["WEBHOOK_URL"].split("://", 1)[1].split("/", 1)[0]
    location = conf.split(f"location = {path} {{", 1)[1].split("}", 1)[0]
    target = f"proxy_pass http://{shown['WEBHOOK_LISTEN']}:{shown['WEBHOOK_PORT']};"
    assert target in location
    assert f"server_name {host};" in conf
    assert "listen 443 ssl;" in conf
