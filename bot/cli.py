"""`dukcapil-bot`: run the bot and the office's maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import TIMEZONE, ConfigError, Settings, database_url, log_format
from bot.db import DatabaseNewer, WrongSecretKey
from bot.domain import Drive
from bot.engine import Connection, is_postgresql
from bot.errors import DomainError, FileRefused
from bot.logs import setup_logging
from bot.postgres import Unreachable, WrongCollation

if TYPE_CHECKING:
    from bot.ratelimit import SharedBudget
    from bot.services.backup import CopyReport


class _JobNames:
    """run-job's choices, read from the job registry only when they are looked at: importing
    it brings the charts and PDF libraries, a second of start-up that no other command needs
    (an import of 1.3 M residents waits for it too)."""

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    @staticmethod
    def _names() -> tuple[str, ...]:
        from bot.jobs.registry import JOB_NAMES

        return JOB_NAMES


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        setup_logging(log_format())
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        return int(args.func(args))
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except (WrongSecretKey, DatabaseNewer, WrongCollation) as error:  # a database not to touch
        print(f"refused: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except Unreachable as error:
        print(f"{error}", file=sys.stderr)  # noqa: T201
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dukcapil-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve the bot (long polling, or a webhook if WEBHOOK_URL is set)")
    sub.add_parser("migrate", help="apply pending migrations")
    imp = sub.add_parser("import-residents", help="import a SIAK CSV export")
    imp.add_argument("file", type=Path)
    sample = sub.add_parser("sample-residents", help="write a realistic synthetic export")
    sample.add_argument("--count", type=int, required=True)
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--seed", type=int, default=1)
    add = sub.add_parser("add-user", help="register a staff member, village official or admin")
    add.add_argument("--telegram-id", type=int, required=True)
    add.add_argument("--role", choices=("staff", "official", "admin"), required=True)
    add.add_argument("--service-point")
    add.add_argument("--area")
    remove = sub.add_parser("remove-user", help="take a role away, with its command menu")
    remove.add_argument("--telegram-id", type=int, required=True)
    invite = sub.add_parser("invite", help="print a one-time, expiring link that gives a role")
    invite.add_argument("--role", required=True, choices=("staff", "official", "admin"))
    invite.add_argument("--service-point")
    invite.add_argument("--area")
    invite.add_argument("--hours", type=int, default=72, help="how long the link is valid")
    revoke = sub.add_parser("revoke-invite", help="make an invitation link unusable")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("link", nargs="?", help="the link as `invite` printed it (or its inv_ part)")
    which.add_argument("--all", action="store_true", help="every invitation not used yet")
    point = sub.add_parser("set-point", help="change a service point's capacity, hours, printing")
    point.add_argument("code")
    point.add_argument("--capacity", type=int)
    point.add_argument("--hours", help="e.g. 'mon-thu 08:00-14:30, fri 08:00-11:00' (WIB)")
    point.add_argument("--prints-cards", choices=("yes", "no"))
    point.add_argument("--active", choices=("yes", "no"))
    copy = sub.add_parser("backup", help="copy the database consistently, also while the bot runs")
    copy.add_argument("file", type=Path)
    back = sub.add_parser("restore", help="replace the database by a backup (stop the bot first)")
    back.add_argument("file", type=Path)
    rotate = sub.add_parser(
        "rotate-key", help="re-seal the database under a new SECRET_KEY (stop the bot first)"
    )
    rotate.add_argument(
        "new_key_file", type=Path, help="file with the new key; made with a fresh key if missing"
    )
    log = sub.add_parser("audit", help="print the audit log from a day (WIB) on")
    log.add_argument(
        "--since", required=True, type=_wib_moment, help="YYYY-MM-DD or YYYY-MM-DDTHH:MM, in WIB"
    )
    drive = sub.add_parser(
        "add-drive", help="plan a mobile recording drive; print its code and deep link"
    )
    drive.add_argument("--name", required=True, help="e.g. 'Perekaman keliling SMAN 1 Talun'")
    drive.add_argument("--place", required=True, help="the place and its address")
    drive.add_argument("--date", required=True, type=_iso_day, help="YYYY-MM-DD, a day to come")
    drive.add_argument("--hours", required=True, help="HH:MM-HH:MM (WIB), e.g. 08:00-12:00")
    drive.add_argument("--capacity", required=True, type=int, help="places per 30 minutes")
    drive.add_argument("--area", required=True, help="Kemendagri code of a desa or kecamatan")
    drive.add_argument("--service-point", required=True, help="whose staff run it, e.g. kanigoro")
    drive.add_argument("--latitude", type=float)
    drive.add_argument("--longitude", type=float)
    sub.add_parser("list-drives", help="the mobile recording drives planned from today on")
    cancel = sub.add_parser(
        "cancel-drive", help="cancel a drive; everyone booked is told, with a rebook button"
    )
    cancel.add_argument("code", help="the drive's code, as add-drive or list-drives print it")
    copy = sub.add_parser(
        "copy-database",
        help="copy the SQLite database (DATABASE_PATH) into an empty PostgreSQL database",
    )
    copy.add_argument("--to", required=True, metavar="postgresql://USER:PASSWORD@HOST:PORT/DBNAME")
    job = sub.add_parser("run-job", help="run one scheduled job now")
    job.add_argument(
        "name", choices=_JobNames(), metavar="NAME", help="a job (a wrong name lists them)"
    )
    job.add_argument("--date", type=date.fromisoformat)
    for name, func in _COMMANDS.items():
        sub.choices[name].set_defaults(func=func)
    return parser


def _run(args: argparse.Namespace) -> int:
    from bot.app import build_application

    settings = Settings.from_env()
    app = build_application(settings, watch=True)
    if settings.database_url:  # one of several workers (bot/workers.py), polling or webhook
        from bot.workers import run_worker

        return run_worker(app, settings)
    elif settings.webhook_url:  # bot/webhook.py: the secret checked, big bodies refused
        from bot.webhook import run_webhook

        run_webhook(app, settings)
    else:
        app.run_polling(drop_pending_updates=False)  # messages sent during a restart count
    return 0


def _on_database(work: Callable[[Connection], Awaitable[int]], *, refused: str) -> int:
    """Run `work` on the migrated database of the settings (SQLite's or PostgreSQL's); a
    refusal is printed as `<refused>: why`, exit 2."""
    from bot.startup import prepare_database

    async def go() -> int:
        try:
            conn = await prepare_database(Settings.from_env(require_token=False))
        except (WrongSecretKey, Unreachable, WrongCollation) as error:
            print(f"{refused}: {error}", file=sys.stderr)  # noqa: T201
            return 2
        try:
            return await work(conn)
        except (DomainError, FileRefused) as error:
            print(f"{refused}: {error}", file=sys.stderr)  # noqa: T201
            return 2
        finally:
            await conn.close()

    return asyncio.run(go())


def _migrate(args: argparse.Namespace) -> int:
    async def work(conn: Connection) -> int:
        print("database is up to date")  # noqa: T201
        return 0

    return _on_database(work, refused="not migrated")


def _import(args: argparse.Namespace) -> int:
    from bot.services.importer import import_residents

    async def work(conn: Connection) -> int:
        report = await import_residents(conn, args.file, now=datetime.now(UTC))
        for line, reason in report.warnings:
            print(f"line {line}: warning: {reason}")  # noqa: T201
        for line, reason in report.rejected:
            print(f"line {line}: {reason}")  # noqa: T201
        print(report.summary())  # noqa: T201
        return 0

    return _on_database(work, refused="file refused, nothing changed")


def _sample(args: argparse.Namespace) -> int:
    from bot.sample import write_sample

    if args.count <= 0:
        print("--count must be a positive number", file=sys.stderr)  # noqa: T201
        return 2
    write_sample(args.out, args.count, seed=args.seed, today=datetime.now(TIMEZONE).date())
    print(f"wrote {args.count:,} residents to {args.out}")  # noqa: T201
    return 0


def _add_user(args: argparse.Namespace) -> int:
    from bot.services.roles import add_user

    async def work(conn: Connection) -> int:
        user = await add_user(
            conn,
            args.telegram_id,
            args.role,
            service_point=args.service_point,
            area=args.area,
            now=datetime.now(UTC),
        )
        print(f"registered {user.telegram_id} as {user.role}")  # noqa: T201
        return 0

    return _on_database(work, refused="not registered")


def _remove_user(args: argparse.Namespace) -> int:
    from bot.services.directory import get_locale
    from bot.services.roles import remove_user

    settings = Settings.from_env(require_token=False)

    async def work(conn: Connection) -> int:
        user = await remove_user(conn, args.telegram_id, actor=None, now=datetime.now(UTC))
        print(f"removed the {user.role} role of {user.telegram_id}")  # noqa: T201
        locale = await get_locale(conn, user.telegram_id)
        if not await _reset_menu(settings, user.telegram_id, locale):
            print(NO_MENU_RESET)  # noqa: T201
        return 0

    return _on_database(work, refused="not removed")


async def _reset_menu(settings: Settings, telegram_id: int, locale: str | None) -> bool:
    """Drop the account's own command menu through the Bot API (or give it the citizens' menu
    in the chat's language); False when it cannot."""
    from telegram import Bot
    from telegram.error import TelegramError

    from bot.handlers.menus import reset_role_menu
    from bot.rendering import Renderer

    if not settings.bot_token:
        return False
    try:
        async with Bot(settings.bot_token, base_url=settings.bot_api_url) as bot:
            await reset_role_menu(bot, telegram_id, Renderer(), locale)
    except TelegramError:
        return False
    return True


def _revoke_invite(args: argparse.Namespace) -> int:
    from bot.services.invites import revoke_invite, revoke_open_invites

    async def work(conn: Connection) -> int:
        now = datetime.now(UTC)
        if args.all:
            count = await revoke_open_invites(conn, actor=None, now=now)
            print(f"revoked {count} unused invitation(s)")  # noqa: T201
            return 0
        done = await revoke_invite(conn, args.link, actor=None, now=now)
        print(_REVOKED[done.outcome].format(role=done.role, by=done.claimed_by))  # noqa: T201
        return 0 if done.outcome != "claimed" else 1

    return _on_database(work, refused="not revoked")


NO_MENU_RESET = (
    "their command menu could not be reset now (no BOT_TOKEN, or the Bot API did not answer);"
    " the bot refuses their role commands all the same"
)
_REVOKED = {
    "revoked": "revoked: this {role} invitation can no longer be used",
    "revoked_before": "this {role} invitation was revoked already",
    "expired": "this {role} invitation had expired already; nothing to revoke",
    "claimed": "this {role} invitation was used by {by}: to take the role away, run "
    "`dukcapil-bot remove-user --telegram-id {by}`",
}


def _invite(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.services.invites import create_invite

    if not 1 <= args.hours <= 24 * 14:
        print("--hours must be between 1 and 336 (two weeks)", file=sys.stderr)  # noqa: T201
        return 2
    settings = Settings.from_env(require_token=False)

    async def work(conn: Connection) -> int:
        payload = await create_invite(
            conn,
            args.role,
            service_point=args.service_point,
            area=args.area,
            now=datetime.now(UTC),
            lifetime=timedelta(hours=args.hours),
        )
        username = await _bot_username(settings) or "<bot username>"
        print(f"https://t.me/{username}?start={payload}")  # noqa: T201
        print(  # noqa: T201
            f"one person may open it, within {args.hours} hours, to become {args.role}; "
            "send it to that person only"
        )
        return 0

    return _on_database(work, refused="not invited")


async def _bot_username(settings: Settings) -> str | None:
    """The bot's username from getMe, or None without a token or a reachable Bot API."""
    from telegram import Bot
    from telegram.error import TelegramError

    if not settings.bot_token:
        return None
    try:
        async with Bot(settings.bot_token, base_url=settings.bot_api_url) as bot:
            return bot.username
    except TelegramError:
        return None


def _iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _add_drive(args: argparse.Namespace) -> int:
    from bot.services.drives import create_drive, deep_link

    settings = Settings.from_env(require_token=False)

    async def work(conn: Connection) -> int:
        try:
            drive = await create_drive(
                conn,
                admin=None,
                name=args.name,
                place=args.place,
                day=args.date,
                hours=args.hours,
                capacity=args.capacity,
                area=args.area,
                service_point=args.service_point,
                latitude=args.latitude,
                longitude=args.longitude,
                now=datetime.now(UTC),
            )
        except DomainError as error:
            print(f"not created: {_in_words(error)}", file=sys.stderr)  # noqa: T201
            return 2
        print(f"created drive {drive.code}: {_drive_line(drive)}")  # noqa: T201
        print(deep_link(await _bot_username(settings) or "<bot username>", drive))  # noqa: T201
        return 0

    return _on_database(work, refused="not created")


def _list_drives(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.services.drives import MAX_DAYS_AHEAD, deep_link, list_drives

    settings = Settings.from_env(require_token=False)

    async def work(conn: Connection) -> int:
        today = datetime.now(TIMEZONE).date()
        found = await list_drives(conn, today, today + timedelta(days=MAX_DAYS_AHEAD))
        username = (await _bot_username(settings) if found else None) or "<bot username>"
        for drive in found:
            print(f"{drive.code}  {_drive_line(drive)}")  # noqa: T201
            print(f"        {deep_link(username, drive)}")  # noqa: T201
        print(f"{len(found)} drives planned from {today.isoformat()} on")  # noqa: T201
        return 0

    return _on_database(work, refused="not read")


def _cancel_drive(args: argparse.Namespace) -> int:
    from bot.jobs.drives import plan_drive_notices
    from bot.jobs.planning import JobRun
    from bot.rendering import Renderer
    from bot.services.drives import cancel_drive

    settings = Settings.from_env(require_token=False)

    async def work(conn: Connection) -> int:
        now = datetime.now(UTC)
        try:
            change = await cancel_drive(conn, args.code, admin=None, now=now)
        except DomainError as error:
            print(f"not cancelled: {_in_words(error)}", file=sys.stderr)  # noqa: T201
            return 2
        today = datetime.now(TIMEZONE).date()
        run = JobRun(conn, Renderer(), settings, day=today, now=now, since=today)
        await plan_drive_notices(run, change, "citizen/drive_cancelled.html")
        print(  # noqa: T201
            f"cancelled drive {change.drive.code} ({change.drive.day.isoformat()}): "
            f"{len(change.cancelled)} bookings cancelled, their residents told"
        )
        return await _deliver(conn, settings, now=now)

    return _on_database(work, refused="not cancelled")


def _drive_line(drive: Drive) -> str:
    return (
        f"{drive.day.isoformat()} {drive.hours} WIB, {drive.capacity} places per slot,"
        f" area {drive.area_code}, staff of {drive.run_by}: {drive.name}, {drive.place}"
    )


def _in_words(error: DomainError) -> str:
    """A refusal as the chat says it, in English and plain text."""
    from html import unescape

    from bot.rendering import Renderer

    text = Renderer().render("en", error.template, **error.context)
    return unescape(re.sub(r"<[^>]+>", "", text))


def _set_point(args: argparse.Namespace) -> int:
    from bot.services.points import update_point

    def flag(value: str | None) -> bool | None:
        return None if value is None else value == "yes"

    async def work(conn: Connection) -> int:
        point = await update_point(
            conn,
            args.code,
            capacity=args.capacity,
            hours=args.hours,
            prints_cards=flag(args.prints_cards),
            active=flag(args.active),
            now=datetime.now(UTC),
        )
        printing = "yes" if point.prints_cards else "no"
        print(  # noqa: T201
            f"{point.code}: {point.slot_capacity} places per slot, hours {point.hours}, "
            f"prints cards: {printing}"
        )
        return 0

    return _on_database(work, refused="not changed")


def _run_job(args: argparse.Namespace) -> int:
    from bot.services.backup import BackupFailed

    settings = Settings.from_env(require_token=False)
    day = args.date or datetime.now(TIMEZONE).date()
    try:
        return _on_database(partial(_plan_and_deliver, args.name, day, settings), refused="not run")
    except BackupFailed as error:  # recorded for /metrics and the alerts already
        print(f"{error} ({error.__cause__})", file=sys.stderr)  # noqa: T201
        return 1


async def _plan_and_deliver(name: str, day: date, settings: Settings, conn: Connection) -> int:
    """Plan the job for `day` at its scheduled time(s); deliver too if no bot is running."""
    from bot.jobs.registry import job_spec, run_planner, scheduled_at
    from bot.rendering import Renderer

    spec, renderer = job_spec(name), Renderer()
    for at in spec.times:
        moment = scheduled_at(day, at)
        planned = await run_planner(
            spec, at, db=conn, renderer=renderer, settings=settings, day=day, now=moment
        )
        print(f"{spec.slot(at)} {day.isoformat()}: {planned} new messages planned")  # noqa: T201
    # Delivered as of now: a message planned for a later moment waits for it (and for the bot),
    # and reminders held by quiet hours stay held, whatever day was planned.
    result = await _deliver(conn, settings, now=datetime.now(UTC))
    print(await _queue_report(conn))  # noqa: T201
    return result


async def _queue_report(conn: Connection) -> str:
    """What stays queued and when it goes out, e.g. after planning a day in the future."""
    from bot.services.outbox import queued_span

    count, first, last = await queued_span(conn)
    if not count or first is None or last is None:
        return "queued: no messages"
    start, end = (_wib_text(moment) for moment in (first, last))
    when = f"at {start}" if start == end else f"from {start} to {end}"
    return f"queued: {count} messages, to go out {when} WIB"


def _wib_text(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")


async def _deliver(conn: Connection, settings: Settings, *, now: datetime) -> int:
    """Send what is due unless the running bot's sender is on it (it holds the sender lock: the
    file beside DATABASE_PATH and, on PostgreSQL, the workers' SENDING lock too)."""
    from bot.jobs.sender import sender_lock

    with sender_lock(settings.database_path) as mine:
        if not mine:
            print("the running bot delivers them")  # noqa: T201
            return 0
        if not settings.bot_token:
            print("BOT_TOKEN is not set: they stay queued until the bot runs")  # noqa: T201
            return 0
        sent: int | None
        if settings.database_url:
            sent = await _send_due_as_worker(conn, settings, now=now)
        else:
            sent = await _send_due(conn, settings, now=now)
        if sent is None:
            print("a running bot worker delivers them")  # noqa: T201
            return 0
        print(f"delivered {sent} messages")  # noqa: T201
    return 0


async def _send_due_as_worker(conn: Connection, settings: Settings, *, now: datetime) -> int | None:
    """On PostgreSQL: send what is due while holding the workers' SENDING lock, the moments
    taken from their shared budget; None when a worker holds the lock (it sends them)."""
    from bot import postgres
    from bot.leases import SENDING, Leases
    from bot.workers import SharedBudget

    leases = await Leases.open(settings.database_url)
    try:
        if not await leases.try_hold(SENDING):
            return None
        budget = await postgres.connect(settings.database_url, settings.secret_key)
        shared = SharedBudget(budget, settings.send_rate)
        try:
            return await _send_due(conn, settings, now=now, shared=shared)
        finally:
            await shared.close()
            await budget.close()
    finally:
        await leases.close()


async def _send_due(
    conn: Connection, settings: Settings, *, now: datetime, shared: SharedBudget | None = None
) -> int:
    """Send every message due at `now`, paced as the bot paces; return how many went out."""
    from telegram import Bot

    from bot.jobs.sender import UNLIMITED_BATCH, send_batch
    from bot.ratelimit import Pacer

    pacer = Pacer(settings.send_rate)
    pacer.shared = shared
    limit = settings.send_rate or UNLIMITED_BATCH
    sent = 0
    bot = Bot(
        settings.bot_token, base_url=settings.bot_api_url, base_file_url=settings.bot_api_file_url
    )
    async with bot:
        while True:
            claimed, delivered = await send_batch(
                bot, conn, now=now, limit=limit, pacer=pacer, quiet=settings.quiet_hours
            )
            sent += delivered
            if not claimed:
                return sent


def _backup(args: argparse.Namespace) -> int:
    from bot.services.backup import BackupRefused, backup

    if url := database_url():
        return asyncio.run(_backup_postgresql(args.file, url))

    async def work(conn: Connection) -> int:
        assert not is_postgresql(conn)  # DATABASE_URL: pg_dump above
        try:
            report = await backup(conn, args.file)
        except BackupRefused as error:
            print(f"backup refused: {error}", file=sys.stderr)  # noqa: T201
            return 2
        print(  # noqa: T201
            f"backed up to {report.path}: {report.size_bytes:,} bytes, "
            f"{report.residents:,} residents, {report.migrations} migrations; integrity ok. "
            "Keep SECRET_KEY (secret.key) too, stored apart from this copy."
        )
        return 0

    return _on_database(work, refused="not backed up")


async def _backup_postgresql(file: Path, url: str) -> int:
    from bot.services import pg_backup
    from bot.services.backup import BackupRefused

    try:
        report = await pg_backup.backup(url, file)
    except BackupRefused as error:
        print(f"backup refused: {error}", file=sys.stderr)  # noqa: T201
        return 2
    print(  # noqa: T201
        f"backed up to {report.path} (pg_dump, custom format): {report.size_bytes:,} bytes, "
        f"{report.residents:,} residents, {report.migrations} migrations; read back whole. "
        "Keep SECRET_KEY (secret.key) too, stored apart from this copy."
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from bot.crypto import Vault
    from bot.jobs.sender import sender_lock
    from bot.services.backup import BackupRefused, restore

    settings = Settings.from_env(require_token=False)
    with sender_lock(settings.database_path) as free:
        if not free:
            print(  # noqa: T201
                "restore refused: the bot is running on this database; stop it first",
                file=sys.stderr,
            )
            return 2
        try:
            if settings.database_url:
                report = asyncio.run(_restore_postgresql(args.file, settings))
            else:
                fingerprint = Vault.from_secret(settings.secret_key).fingerprint
                report = asyncio.run(
                    restore(args.file, settings.database_path, fingerprint=fingerprint)
                )
        except BackupRefused as error:
            print(f"restore refused: {error}", file=sys.stderr)  # noqa: T201
            return 2
    print(  # noqa: T201
        f"restored {report.path} from {args.file}: {report.residents:,} residents, "
        f"{report.migrations} migrations; start the bot (it applies newer migrations)"
    )
    return 0


async def _restore_postgresql(file: Path, settings: Settings) -> CopyReport:
    from bot import postgres
    from bot.services import pg_backup
    from bot.services.backup import BackupRefused

    try:
        conn = await postgres.connect(settings.database_url, settings.secret_key)
    except postgres.Unreachable as error:
        raise BackupRefused(str(error)) from None
    try:
        return await pg_backup.restore(file, conn, settings.database_url)
    finally:
        await conn.close()


def _rotate_key(args: argparse.Namespace) -> int:
    from bot.engine import migrate, open_database
    from bot.jobs.sender import sender_lock
    from bot.services.key_rotation import read_or_create_key, rotate_key
    from bot.storage.workers import count_alive
    from bot.workers import ALIVE

    settings = Settings.from_env(require_token=False, weak_key_ok=True)  # replacing it
    try:
        new_secret, created = read_or_create_key(args.new_key_file)
    except (OSError, ValueError) as error:
        print(f"rotation refused: {error}", file=sys.stderr)  # noqa: T201
        return 2
    if created:
        print(f"wrote a new key to {args.new_key_file} (keep it secret)")  # noqa: T201

    async def go() -> int:
        conn = await open_database(settings)
        try:
            await migrate(conn, check=False)
            if is_postgresql(conn) and await count_alive(conn, since=datetime.now(UTC) - ALIVE):
                print(  # noqa: T201
                    "rotation refused: a bot worker is running on this database; stop every"
                    " worker first",
                    file=sys.stderr,
                )
                return 2
            rotation = await rotate_key(conn, new_secret, now=datetime.now(UTC))
        except (WrongSecretKey, ValueError) as error:
            print(f"rotation refused: {error}", file=sys.stderr)  # noqa: T201
            return 2
        finally:
            await conn.close()
        if rotation.already:
            print(f"the database is sealed with the new key ({rotation.new_fingerprint}) already")  # noqa: T201
        else:
            print(  # noqa: T201
                f"re-sealed {rotation.residents:,} residents: key {rotation.old_fingerprint}"
                f" -> {rotation.new_fingerprint}"
            )
        if settings.database_url and not rotation.already:
            print(  # noqa: T201
                "the rewritten tables were compacted (VACUUM FULL); PostgreSQL's WAL archives and"
                " base backups, and dumps made before, still hold the old values (under the old"
                " key) until they expire: keep the old key as long as them"
            )
        print(  # noqa: T201
            f"now make the key in {args.new_key_file} the SECRET_KEY (the environment variable, or"
            " the secret.key file beside the database) and start the bot"
        )
        return 0

    with sender_lock(settings.database_path) as free:
        if not free:
            print(  # noqa: T201
                "rotation refused: the bot is running on this database; stop it first",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(go())


def _copy_database(args: argparse.Namespace) -> int:
    from bot.jobs.sender import sender_lock

    url = args.to.strip()  # never echoed: it may hold a password
    if not url.startswith(("postgresql://", "postgres://")):
        print(  # noqa: T201
            "not copied: --to must be postgresql://USER:PASSWORD@HOST:PORT/DBNAME",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env(require_token=False)
    if not settings.database_path.is_file():
        print(f"not copied: no SQLite database at {settings.database_path}", file=sys.stderr)  # noqa: T201
        return 2
    with sender_lock(settings.database_path) as free:
        if not free:
            print(  # noqa: T201
                "not copied: the bot is running on this database; stop it first",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(_copy_into(settings, url))


async def _copy_into(settings: Settings, url: str) -> int:
    from bot import db as dbmod
    from bot import postgres
    from bot.services.database_copy import CopyFailed, CopyRefused, copy_database

    try:
        target = await postgres.connect(url, settings.secret_key)
    except postgres.Unreachable as error:
        print(f"not copied: {error}", file=sys.stderr)  # noqa: T201
        return 2
    source = await dbmod.connect(settings.database_path, settings.secret_key)
    try:
        report = await copy_database(source, target)
    except (CopyRefused, WrongSecretKey, DatabaseNewer, postgres.WrongCollation) as error:
        print(f"not copied: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except CopyFailed as error:
        print(f"copy failed: {error}", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        await source.close()
        await target.close()
    for table, rows in report.rows.items():
        print(f"{table}: {rows:,} rows")  # noqa: T201
    print(  # noqa: T201
        f"copied {len(report.rows)} tables, {sum(report.rows.values()):,} rows; the counts match."
        " Set DATABASE_URL to this database (keep the same SECRET_KEY) and start the bot."
    )
    return 0


def _wib_moment(text: str) -> datetime:
    """`2026-11-24` or `2026-11-24T08:00`, read as WIB."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or a moment (YYYY-MM-DDTHH:MM)"
        ) from None
    return moment.replace(tzinfo=TIMEZONE) if moment.tzinfo is None else moment


def _audit(args: argparse.Namespace) -> int:
    from bot.services.audit import audit_since

    async def work(conn: Connection) -> int:
        records = await audit_since(conn, args.since.astimezone(UTC))
        for record in records:
            at = record.at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M:%S WIB")
            actor = "system" if record.actor_id is None else str(record.actor_id)
            again = f" (+{record.repeats} more within the hour)" if record.repeats else ""
            print(f"{at}  {actor:>12}  {record.action}  {record.detail}{again}")  # noqa: T201
        print(f"{len(records)} records since {args.since:%Y-%m-%d %H:%M} WIB")  # noqa: T201
        return 0

    return _on_database(work, refused="not read")


_COMMANDS = {
    "run": _run,
    "migrate": _migrate,
    "import-residents": _import,
    "sample-residents": _sample,
    "add-user": _add_user,
    "remove-user": _remove_user,
    "invite": _invite,
    "revoke-invite": _revoke_invite,
    "set-point": _set_point,
    "run-job": _run_job,
    "add-drive": _add_drive,
    "list-drives": _list_drives,
    "cancel-drive": _cancel_drive,
    "audit": _audit,
    "backup": _backup,
    "restore": _restore,
    "rotate-key": _rotate_key,
    "copy-database": _copy_database,
}
