"""Settings: read once, fail fast, documented."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, derive_file_url

README = Path(__file__).resolve().parents[2] / "README.md"


def test_token_is_required_for_run(tmp_path):
    with pytest.raises(ConfigError, match="BOT_TOKEN is not set"):
        Settings.from_env({"DATABASE_PATH": str(tmp_path / "x.sqlite3")})


def test_defaults(tmp_path):
    settings = Settings.from_env({"BOT_TOKEN": "1:A", "DATABASE_PATH": str(tmp_path / "d.sqlite3")})
    assert settings.bot_api_url == "https://api.telegram.org/bot{token}"
    assert settings.bot_api_file_url == "https://api.telegram.org/file/bot{token}"
    assert settings.check_failures_per_hour == 5
    assert settings.check_burst_failures == 200
    assert settings.check_burst_window == timedelta(minutes=10)
    assert settings.check_burst_delay == timedelta(seconds=60)
    assert settings.default_locale == "id"
    assert settings.recording_min_age == 16
    assert settings.ops_listen == ("127.0.0.1", 9108)
    assert settings.ops_telegram_grace == timedelta(minutes=2)
    assert settings.log_format == "text"
    assert "1:A" not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("off", None), ("0.0.0.0:9200", ("0.0.0.0", 9200)), ("[::1]:9108", ("::1", 9108))],
)
def test_ops_listen(tmp_path, raw, expected):
    env = {"BOT_TOKEN": "1:A", "DATABASE_PATH": str(tmp_path / "d.sqlite3"), "OPS_LISTEN": raw}
    assert Settings.from_env(env).ops_listen == expected


def test_file_url_is_derived_from_the_api_url():
    assert (
        derive_file_url("http://127.0.0.1:8081/bot{token}")
        == "http://127.0.0.1:8081/file/bot{token}"
    )


def test_secret_key_is_generated_once_with_mode_0600(tmp_path):
    env = {"BOT_TOKEN": "1:A", "DATABASE_PATH": str(tmp_path / "var" / "d.sqlite3")}
    first = Settings.from_env(env)
    second = Settings.from_env(env)
    key_file = tmp_path / "var" / "secret.key"
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHECK_FAILURES_PER_HOUR", "lots"),
        ("CHECK_BURST_FAILURES", "0"),
        ("CHECK_BURST_WINDOW_MINUTES", "-5"),
        ("CHECK_BURST_DELAY_SECONDS", "1m"),
        ("DEFAULT_LOCALE", "fr"),
        ("WEBHOOK_PORT", "0"),
        ("RECORDING_MIN_AGE", "enam belas"),
        ("OPS_LISTEN", "9108"),
        ("OPS_LISTEN", "localhost:99999"),
        ("OPS_TELEGRAM_GRACE_SECONDS", "0"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_invalid_values_fail_fast(tmp_path, name, value):
    env = {"BOT_TOKEN": "1:A", "DATABASE_PATH": str(tmp_path / "d.sqlite3"), name: value}
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_every_setting_is_documented_in_readme():
    source = (Path(__file__).resolve().parents[2] / "bot" / "config.py").read_text()
    names = set(re.findall(r'"([A-Z][A-Z_]{3,})"', source))
    readme = README.read_text()
    assert names
    for name in names:
        assert f"`{name}`" in readme, f"{name} is not documented in README.md"
