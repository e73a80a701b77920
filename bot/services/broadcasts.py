"""Village officials' broadcasts (/siaran): who may reach whom, how often, and the delivery report.

An official reaches only the linked residents of their own area; an admin the whole regency.
The texts are rendered by the caller (one per language, exactly what recipients read); this
module decides the recipients, keeps the daily limit, and plans one outbox message per chat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from babel.dates import get_month_names

from bot.config import TIMEZONE
from bot.db import transaction
from bot.domain import Area, Drive, RoleUser
from bot.engine import Connection
from bot.errors import DomainError, NotAuthorized
from bot.nik import mask_numbers_in
from bot.services import drives, outbox
from bot.services.drive_desk import overlaps
from bot.services.figures import ages_on
from bot.services.outbox import QUIET_HOURS, QuietHours, quiet_hours_end
from bot.services.summaries import area_code_for
from bot.storage import audit
from bot.storage import broadcasts as store
from bot.storage import outbox as outbox_store
from bot.storage.areas import get_area
from bot.storage.broadcasts import AUDIENCES, Broadcast

TEMPLATES = ("invitation", "mobile", "deadline", "free")
DAILY_LIMIT = 3  # per official per WIB day; admins are not limited
MAX_TEXT = 1000
MAX_DAYS_AHEAD = 366
DRIVE_CHOICES = 10  # drives offered as buttons to an invitation, nearest first
RECENT = 3  # broadcasts shown with their delivery figures when /siaran opens
_DATE = re.compile(r"^\s*(\d{1,2})\s*[-/. ]\s*(\d{1,2})\s*[-/. ]\s*(\d{4})\s*$")
_NAMED_DATE = re.compile(r"^\s*(\d{1,2})[-/. ]*([^\W\d_]+)\.?[-/., ]*(\d{4})\s*$")
# Month names in Indonesian and English, and the old spellings still typed; an abbreviation is
# any unambiguous start of at least three letters ("Des", "Sept", "Agu").
_MONTH_NAMES = {
    name.casefold(): number
    for locale in ("id", "en")
    for number, name in get_month_names("wide", locale=locale).items()
} | {"pebruari": 2, "agt": 8, "ags": 8, "nopember": 11}


class BroadcastError(DomainError):
    """A broadcast step said no; `kind` picks the sentence of the shared template."""

    template = "official/broadcast_error.html"


class LimitReached(BroadcastError):
    """The official's daily broadcasts are used up; `until` is when they may send again."""

    kind = "limit"


class NoRecipients(BroadcastError):
    """Nobody of that audience is linked to a chat that can be reached."""

    kind = "none"


class InvalidDay(BroadcastError):
    """The mobile recording day is not a date, or is in the past or too far ahead."""

    kind = "date"


class DriveNotOffered(BroadcastError):
    """The drive is not one the author may announce: unknown, cancelled, over, or outside the
    author's area."""

    kind = "drive"


class TextTooLong(BroadcastError):
    """Free text over MAX_TEXT characters (or empty)."""

    kind = "text"


@dataclass(frozen=True)
class Draft:
    """What the author chose: the template, its parameters and the audience. The mobile
    recording template announces a drive (perekaman keliling) of the author's area."""

    template: str
    audience: str
    drive: Drive | None = None
    text: str | None = None

    def parameters(self) -> dict[str, str]:
        """The template's parameters as stored with the broadcast."""
        values = {"drive": self.drive.code if self.drive else None, "text": self.text}
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Quota:
    """How many broadcasts the author sent today, of how many (None: no limit)."""

    used: int
    limit: int | None
    until: datetime  # the next WIB midnight, when the count starts again

    @property
    def left(self) -> int | None:
        """Broadcasts still allowed today (None: no limit)."""
        return None if self.limit is None else max(self.limit - self.used, 0)


@dataclass(frozen=True)
class Status:
    """A broadcast with its delivery figures so far (every outbox state, zeros included)."""

    broadcast: Broadcast
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        """Messages not yet final."""
        return self.counts.get("queued", 0) + self.counts.get("sending", 0)


@dataclass(frozen=True)
class Sent:
    """A confirmed broadcast; `held_until` is set when quiet hours hold it until morning."""

    broadcast: Broadcast
    held_until: datetime | None


@dataclass(frozen=True)
class Preview:
    """What the author confirms: how many chats the audience reaches in which area, and when
    the messages would go out (None: at once; else when the quiet hours end)."""

    count: int
    area: Area
    held_until: datetime | None


def scope_code(user: RoleUser, drive: Drive | None = None) -> str:
    """The area an account may broadcast to: an official's own, the regency for an admin; an
    invitation to a drive only where the drive serves too (a desa's drive: that desa)."""
    code = area_code_for(user, "siaran")
    if drive is not None and overlaps(code, drive.area_code):
        return max(code, drive.area_code, key=len)
    return code


async def scope_area(db: Connection, user: RoleUser, drive: Drive | None = None) -> Area:
    """The Area an account may broadcast to (about `drive`)."""
    area = await get_area(db, scope_code(user, drive))
    if area is None:
        raise NotAuthorized(command="siaran")
    return area


async def drives_to_announce(db: Connection, user: RoleUser, *, today: date) -> list[Drive]:
    """The planned drives from today on that serve the author's area or part of it (every
    drive for an admin), by day: the DRIVE_CHOICES nearest."""
    code = scope_code(user)
    ahead = await drives.list_drives(db, today, today + timedelta(days=MAX_DAYS_AHEAD))
    return [drive for drive in ahead if overlaps(code, drive.area_code)][:DRIVE_CHOICES]


async def drive_to_announce(db: Connection, user: RoleUser, code: str, *, now: datetime) -> Drive:
    """The drive with this code if the author may announce it (planned, not over, in their
    area); else DriveNotOffered, the refusal audited."""
    drive = await drives.get_drive_by_code(db, code)
    today = now.astimezone(TIMEZONE).date()
    if drive is None or drive.cancelled or drive.day < today:
        await _refuse_drive(db, user, code, now=now)
    elif not overlaps(scope_code(user), drive.area_code):
        await _refuse_drive(db, user, drive.code, now=now)
    assert drive is not None
    return drive


async def _refuse_drive(db: Connection, user: RoleUser, code: str, *, now: datetime) -> None:
    label = code if code.isalnum() and len(code) <= 10 else "invalid"
    async with transaction(db):
        await audit.write_audit(
            db, user.telegram_id, "broadcast:drive", f"refused drive={label}", now=now
        )
    raise DriveNotOffered()


def parse_day(text: str, *, today: date) -> date:
    """`DD-MM-YYYY` (or with `/`, `.` or spaces) or `15 Desember 2026` / `15 Dec 2026`: today or
    later, at most a year ahead. InvalidDay's `problem` says what is wrong: the format, the
    calendar (31-02), or the range."""
    day = read_day(text, today=today)
    if day < today or day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidDay(problem="range", today=today, max_days=MAX_DAYS_AHEAD)
    return day


def read_day(text: str, *, today: date) -> date:
    """A typed day (as `parse_day` reads it), whatever its range; InvalidDay's `problem` is
    `format` or `calendar` (`today` only fills the example of the answer)."""
    numbers = _day_month_year(text)
    if numbers is None:
        raise InvalidDay(problem="format", today=today, max_days=MAX_DAYS_AHEAD)
    try:
        return date(numbers[2], numbers[1], numbers[0])
    except ValueError:
        raise InvalidDay(problem="calendar", today=today, max_days=MAX_DAYS_AHEAD) from None


def _day_month_year(text: str) -> tuple[int, int, int] | None:
    if match := _DATE.match(text):
        return int(match[1]), int(match[2]), int(match[3])
    if (match := _NAMED_DATE.match(text)) and (month := _month_number(match[2])):
        return int(match[1]), month, int(match[3])
    return None


def _month_number(word: str) -> int | None:
    """The month a name or its unambiguous start (3 letters or more) stands for, else None."""
    word = word.casefold()
    months = {n for name, n in _MONTH_NAMES.items() if len(word) >= 3 and name.startswith(word)}
    return months.pop() if len(months) == 1 else None


def check_text(text: str) -> str:
    """Free text as written, NIK-like numbers masked; TextTooLong beyond MAX_TEXT characters."""
    if not text.strip() or len(text) > MAX_TEXT:
        raise TextTooLong(max_length=MAX_TEXT, length=len(text))
    return mask_numbers_in(text)


async def quota(db: Connection, user: RoleUser, *, now: datetime) -> Quota:
    """The author's broadcasts today (WIB) against the daily limit."""
    start = datetime.combine(now.astimezone(TIMEZONE).date(), time(0), tzinfo=TIMEZONE)
    used = await store.count_since(db, user.telegram_id, start.astimezone(UTC))
    limit = None if user.role == "admin" else DAILY_LIMIT
    return Quota(used, limit, (start + timedelta(days=1)).astimezone(UTC))


async def ensure_quota(db: Connection, user: RoleUser, *, now: datetime) -> Quota:
    """The quota, or LimitReached with the moment broadcasting is possible again."""
    today = await quota(db, user, now=now)
    if today.left == 0:
        raise LimitReached(until=today.until, limit=today.limit)
    return today


async def count_recipients(
    db: Connection,
    user: RoleUser,
    audience: str,
    *,
    today: date,
    drive: Drive | None = None,
) -> int:
    """Distinct chats (reminders on, not blocked) the audience reaches in the author's area
    (where `drive` serves, for an invitation to it)."""
    _check_audience(audience)
    code = scope_code(user, drive)
    return await store.count_recipients(db, code, audience, ages=ages_on(today))


async def preview(
    db: Connection,
    user: RoleUser,
    audience: str,
    *,
    now: datetime,
    quiet: QuietHours = QUIET_HOURS,
    drive: Drive | None = None,
) -> Preview:
    """The figures shown before the author confirms a broadcast to `audience` at `now`."""
    today = now.astimezone(TIMEZONE).date()
    count = await count_recipients(db, user, audience, today=today, drive=drive)
    return Preview(count, await scope_area(db, user, drive), quiet_hours_end(now, quiet))


async def send(
    db: Connection,
    user: RoleUser,
    draft: Draft,
    texts: Mapping[str, str],
    *,
    default_locale: str,
    now: datetime,
    quiet: QuietHours = QUIET_HOURS,
    markups: Mapping[str, str] | None = None,
) -> Sent:
    """Record the broadcast and queue one message per recipient chat (with `markups`, its
    keyboard, per language), in one transaction."""
    _check_audience(draft.audience)
    if draft.template not in TEMPLATES:
        raise ValueError(f"unknown broadcast template {draft.template!r}")
    code = scope_code(user, draft.drive)
    ages = ages_on(now.astimezone(TIMEZONE).date())
    held_until = quiet_hours_end(now, quiet)
    async with transaction(db):
        await ensure_quota(db, user, now=now)
        broadcast_id = await store.insert_broadcast(
            db,
            author_id=user.telegram_id,
            area_code=code,
            audience=draft.audience,
            template=draft.template,
            parameters=draft.parameters(),
            now=now,
        )
        count = await store.insert_messages(
            db,
            broadcast_id,
            draft.audience,
            code=code,
            ages=ages,
            texts=texts,
            default_locale=default_locale,
            not_before=held_until or now,
            now=now,
            markups=markups,
        )
        if count == 0:  # the rollback takes the empty broadcast away again
            raise NoRecipients()
        await store.set_recipients(db, broadcast_id, count)
        detail = f"id={broadcast_id} area={code} audience={draft.audience}"
        detail += f" template={draft.template} recipients={count}"
        await audit.write_audit(db, user.telegram_id, "broadcast", detail, now=now)
    broadcast = await store.get_broadcast(db, broadcast_id)
    assert broadcast is not None
    return Sent(broadcast, held_until)


async def recent(db: Connection, user: RoleUser, *, limit: int = RECENT) -> list[Status]:
    """The author's latest broadcasts with their delivery figures, newest first."""
    latest = await store.recent(db, user.telegram_id, limit=limit)
    return [await _status(db, broadcast) for broadcast in latest]


async def finished_unreported(db: Connection) -> list[Status]:
    """Broadcasts whose every message is final and whose author has not had the report."""
    return [await _status(db, b) for b in await store.finished_unreported(db)]


async def plan_report(db: Connection, status: Status, text: str, *, now: datetime) -> bool:
    """Queue the delivery report to the author once; False if it was already planned."""
    broadcast = status.broadcast
    async with transaction(db):
        if not await store.mark_reported(db, broadcast.id, now=now):
            return False
        await outbox_store.insert_message(
            db,
            key=f"broadcast-report:{broadcast.id}",
            chat_id=broadcast.author_id,
            kind="staff",
            text=text,
            reply_markup_json=None,
            not_before=now,
            now=now,
        )
    return True


async def _status(db: Connection, broadcast: Broadcast) -> Status:
    return Status(broadcast, await outbox.delivery_report(db, store.key_prefix(broadcast.id)))


def _check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise ValueError(f"unknown broadcast audience {audience!r}")
