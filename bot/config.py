"""Typed settings read once from the environment (and `.env` if present)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dotenv import dotenv_values

from bot.crypto import webhook_secret
from bot.db import make_private_dir

DEFAULT_API_URL = "https://api.telegram.org/bot{token}"
MIN_SECRET_KEY = 32  # characters; the generated key has 43 (32 random bytes)
TIMEZONE = ZoneInfo("Asia/Jakarta")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment."""

    bot_token: str = field(repr=False)
    bot_api_url: str
    bot_api_file_url: str
    database_path: Path
    secret_key: str = field(repr=False)
    # postgresql://USER:PASSWORD@HOST:PORT/DBNAME; "": SQLite at database_path (docs/postgresql.md).
    database_url: str = field(default="", repr=False)
    # The most connections one process opens to DATABASE_URL (bot/postgres.py: one per
    # transaction or statement in progress; chats are handled side by side).
    database_pool_size: int = 10
    default_locale: str = "id"
    check_failures_per_hour: int = 5
    # A regency-wide burst of failed checks (many accounts guessing NIK + KK) slows the new
    # accounts that failed: bot/services/burst.py. A burst is this many failed checks, across
    # all accounts, within the window; while it lasts each check of a new account that failed
    # waits `check_burst_delay` and admins are alerted.
    check_burst_failures: int = 200
    check_burst_window: timedelta = timedelta(minutes=10)
    check_burst_delay: timedelta = timedelta(seconds=60)
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = field(default="", repr=False)  # Telegram's secret token header
    recording_min_age: int = 16  # who may book a recording (or is or was married)
    send_rate: int = 30  # messages/second overall; 0 lifts Telegram's limits (paid broadcasts)
    quiet_hours: tuple[time, time] | None = (time(20, 0), time(7, 0))  # WIB; None: none
    backup_dir: Path = Path("var/backups")  # the nightly copies (bot/jobs/backup.py)
    # /healthz, /readyz, /metrics (bot/ops.py); None: not served. Served by `run` only.
    ops_listen: tuple[str, int] | None = ("127.0.0.1", 9108)
    ops_telegram_grace: timedelta = timedelta(minutes=2)  # /readyz: Telegram may fail this long
    log_format: str = "text"
    # The admins' alerts (bot/services/alerts.py): their thresholds.
    alert_outbox_late: timedelta = timedelta(minutes=10)
    alert_telegram_down: timedelta = timedelta(minutes=5)
    alert_backup_age: timedelta = timedelta(hours=26)
    alert_disk_free_percent: int = 10
    alert_disk_free_bytes: int = 10**9
    tz: ZoneInfo = TIMEZONE

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        require_token: bool = True,
        weak_key_ok: bool = False,
    ) -> Settings:
        """Build settings from `env` (default: `.env` overlaid by the process environment).
        `weak_key_ok` lets `rotate-key` replace a SECRET_KEY that is too short."""
        values = _environment() if env is None else dict(env)
        token = values.get("BOT_TOKEN", "").strip()
        if require_token and not token:
            raise ConfigError(
                "BOT_TOKEN is not set. Put the token from @BotFather in the environment "
                "or in a .env file (BOT_TOKEN=123456:ABC...)."
            )
        database_path = Path(values.get("DATABASE_PATH") or "var/dukcapil.sqlite3")
        api_url = values.get("BOT_API_URL") or DEFAULT_API_URL
        secret_key = values.get("SECRET_KEY") or load_or_create_key(database_path)
        if not weak_key_ok:
            _check_key_length(secret_key)
        webhook_url = values.get("WEBHOOK_URL", "")
        return cls(
            bot_token=token,
            bot_api_url=api_url,
            bot_api_file_url=values.get("BOT_API_FILE_URL") or derive_file_url(api_url),
            database_path=database_path,
            secret_key=secret_key,
            database_url=database_url(values),
            database_pool_size=_positive_int(values, "DATABASE_POOL_SIZE", 10),
            default_locale=_choice(values, "DEFAULT_LOCALE", "id", ("id", "en")),
            check_failures_per_hour=_positive_int(values, "CHECK_FAILURES_PER_HOUR", 5),
            check_burst_failures=_positive_int(values, "CHECK_BURST_FAILURES", 200),
            check_burst_window=timedelta(
                minutes=_positive_int(values, "CHECK_BURST_WINDOW_MINUTES", 10)
            ),
            check_burst_delay=timedelta(
                seconds=_positive_int(values, "CHECK_BURST_DELAY_SECONDS", 60)
            ),
            webhook_url=webhook_url,
            webhook_listen=values.get("WEBHOOK_LISTEN") or "127.0.0.1",
            webhook_port=_positive_int(values, "WEBHOOK_PORT", 8443),
            webhook_secret=_webhook_secret(values.get("WEBHOOK_SECRET", ""), secret_key)
            if webhook_url
            else "",
            recording_min_age=_positive_int(values, "RECORDING_MIN_AGE", 16),
            send_rate=_whole_number(values, "SEND_RATE", 30),
            quiet_hours=_quiet_hours(values.get("QUIET_HOURS", "20:00-07:00")),
            backup_dir=Path(values.get("BACKUP_DIR") or "var/backups"),
            ops_listen=_listen(values.get("OPS_LISTEN", "127.0.0.1:9108")),
            ops_telegram_grace=timedelta(
                seconds=_positive_int(values, "OPS_TELEGRAM_GRACE_SECONDS", 120)
            ),
            log_format=log_format(values),
            alert_outbox_late=timedelta(minutes=_positive_int(values, "ALERT_OUTBOX_MINUTES", 10)),
            alert_telegram_down=timedelta(
                minutes=_positive_int(values, "ALERT_TELEGRAM_MINUTES", 5)
            ),
            alert_backup_age=timedelta(hours=_positive_int(values, "ALERT_BACKUP_HOURS", 26)),
            alert_disk_free_percent=_positive_int(values, "ALERT_DISK_FREE_PERCENT", 10),
            alert_disk_free_bytes=_positive_int(values, "ALERT_DISK_FREE_GB", 1) * 10**9,
        )


def log_format(values: Mapping[str, str] | None = None) -> str:
    """LOG_FORMAT: `text` (readable lines, the default) or `json` (one object a line)."""
    return _choice(_environment() if values is None else values, "LOG_FORMAT", "text", LOG_FORMATS)


def database_url(values: Mapping[str, str] | None = None) -> str:
    """DATABASE_URL: a PostgreSQL database, or "" for SQLite at DATABASE_PATH. Never echoed: it
    may hold a password."""
    url = (_environment() if values is None else values).get("DATABASE_URL", "").strip()
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "DATABASE_URL must be postgresql://USER:PASSWORD@HOST:PORT/DBNAME;"
            " unset it to use SQLite at DATABASE_PATH"
        )
    return url


def derive_file_url(api_url: str) -> str:
    """`http://host:8081/bot{token}` -> `http://host:8081/file/bot{token}`."""
    head, sep, tail = api_url.rpartition("/bot")
    if not sep:
        raise ConfigError(f"BOT_API_URL must end with /bot{{token}}, got {api_url!r}")
    return f"{head}/file/bot{tail}"


def load_or_create_key(database_path: Path) -> str:
    """Read the secret key beside the database, creating it (mode 0600) on first run."""
    key_path = database_path.parent / "secret.key"
    if key_path.exists():
        return key_path.read_text(encoding="utf-8").strip()
    make_private_dir(key_path.parent)
    key = secrets.token_urlsafe(32)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def _environment() -> dict[str, str]:
    values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    values.update(os.environ)
    return values


def _positive_int(values: Mapping[str, str], name: str, default: int) -> int:
    raw = values.get(name)
    if not raw:
        return default
    if not raw.strip().isdigit() or int(raw) <= 0:
        raise ConfigError(f"{name} must be a positive whole number, got {raw!r}")
    return int(raw)


def _check_key_length(secret_key: str) -> None:
    if len(secret_key) < MIN_SECRET_KEY:
        raise ConfigError(
            f"SECRET_KEY is too short ({len(secret_key)} characters): it must be at least"
            f" {MIN_SECRET_KEY} random characters. Make one with"
            " `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`, or leave SECRET_KEY"
            " unset to have one generated into secret.key. A database sealed with the short key:"
            " `dukcapil-bot rotate-key NEW_KEY_FILE` moves it to a new key."
        )


def _webhook_secret(raw: str, secret_key: str) -> str:
    """WEBHOOK_SECRET as given, else derived from SECRET_KEY (1-256 of A-Z a-z 0-9 _ -)."""
    secret = raw.strip()
    if not secret:
        return webhook_secret(secret_key)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ConfigError(
            "WEBHOOK_SECRET may hold only letters, digits, _ and -, at most 256 of them"
        )
    return secret


def _whole_number(values: Mapping[str, str], name: str, default: int) -> int:
    raw = (values.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), got {raw!r}")
    return int(raw)


def _quiet_hours(raw: str) -> tuple[time, time] | None:
    """`20:00-07:00` -> (20:00, 07:00); `off` or empty -> None."""
    text = raw.strip().lower()
    if text in ("", "off", "none"):
        return None
    try:
        start, end = (time.fromisoformat(part.strip().zfill(5)) for part in text.split("-"))
    except ValueError:
        raise ConfigError(
            f"QUIET_HOURS must look like 20:00-07:00 (WIB) or be 'off', got {raw!r}"
        ) from None
    if start == end:
        raise ConfigError("QUIET_HOURS must start and end at different times, or be 'off'")
    return start, end


def _listen(raw: str) -> tuple[str, int] | None:
    """`127.0.0.1:9108` -> ("127.0.0.1", 9108); `[::1]:9108` for IPv6; `off` -> None."""
    text = raw.strip()
    if text.lower() in ("off", "none", ""):
        return None
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"OPS_LISTEN must look like 127.0.0.1:9108 or be 'off', got {raw!r}")
    return host, int(port)


def _choice(values: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = values.get(name) or default
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw
