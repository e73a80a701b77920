"""The annual deactivation: a preview after the deadline, an admin's approval, then the update.

Nothing is ever deactivated automatically. The day after a cycle's recording deadline the
preview job stores one run for that cycle (counts per kecamatan and desa) and shows it to the
admins. An admin's approval applies it in one transaction: the cohort's residents who are still
unrecorded and AKTIF at that moment become NONAKTIF, the run is marked applied, the approval is
audited and the linked chats' notices are planned. A second approval changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from bot.db import transaction, vault_of
from bot.domain import RoleUser
from bot.engine import Connection
from bot.errors import DomainError
from bot.places import Place
from bot.services.cycle import WAJIB_KTP_AGE, Cycle, birthday_at
from bot.services.outbox import (
    HELD_IN_QUIET_HOURS,
    QuietHours,
    quiet_hours_end,
    reminder_key,
    reminder_plan,
)
from bot.services.staff_actions import require_role
from bot.storage import audit
from bot.storage import deactivation as store
from bot.storage import outbox as outbox_store
from bot.storage.deactivation import DesaRow
from bot.storage.elsewhere import PlaceCount

TOP_DESA = 15  # desa named in the preview message; the CSV has them all
NOTICE_KIND = "reminder"  # held in quiet hours, like the deactivated reminders that follow


class RunNotFound(DomainError):
    """No deactivation run has this id (a forged or mangled button)."""

    template = "citizen/error_stale_button.html"


@dataclass(frozen=True)
class KecamatanCount:
    """How many of the cohort live in one kecamatan."""

    code: str
    name: str
    count: int


@dataclass(frozen=True)
class Run:
    """A cycle's deactivation: its preview and, once approved, what was applied."""

    id: int
    cycle: Cycle
    state: str  # previewed / applied
    desa: list[DesaRow]  # per desa as previewed, in area-code order
    total: int
    previewed_at: datetime
    approved_by: int | None
    applied_at: datetime | None
    applied_count: int | None

    @property
    def applied(self) -> bool:
        """Whether an admin approved it and the NIKs were set NONAKTIF."""
        return self.state == "applied"

    @property
    def kecamatan(self) -> list[KecamatanCount]:
        """Counts per kecamatan, biggest first (then by name)."""
        totals: dict[str, KecamatanCount] = {}
        for row in self.desa:
            seen = totals.get(row.kecamatan_code)
            count = row.count + (seen.count if seen else 0)
            totals[row.kecamatan_code] = KecamatanCount(
                row.kecamatan_code, row.kecamatan_name, count
            )
        return sorted(totals.values(), key=lambda k: (-k.count, k.name))

    def top_desa(self, limit: int = TOP_DESA) -> list[DesaRow]:
        """The desa with the most residents to deactivate, biggest first."""
        return sorted(self.desa, key=lambda d: (-d.count, d.desa_name))[:limit]


@dataclass(frozen=True)
class Notice:
    """Tell `chat_id` that `nama`'s NIK was deactivated in `cycle`."""

    chat_id: int
    nik: str
    nama: str
    cycle: Cycle
    locale: str | None = None  # the chat's language, as the cohort query found it
    nik_ref: bytes = b""  # the NIK's lookup hash, which the outbox key holds instead of the NIK
    elsewhere: Place | None = None  # where the chat reported the resident lives, if it did


@dataclass(frozen=True)
class Approval:
    """The run after an approval; `newly` is False when it had been applied before."""

    run: Run
    newly: bool
    notices: int = 0  # notices planned to linked chats


# (locale, notice) -> (Telegram HTML, reply markup JSON or None); made by the handler
ComposeNotice = Callable[[str, Notice], tuple[str, str | None]]


@dataclass(frozen=True)
class Notifier:
    """How linked chats are told: the handler's composer, the default language, quiet hours."""

    compose: ComposeNotice
    default_locale: str
    quiet: QuietHours


def cycle_ended_before(day: date, *, deadline_month: int = 4, deadline_day: int = 30) -> Cycle:
    """The cycle whose recording deadline is the most recent one before `day`."""
    deadline = date(day.year, deadline_month, deadline_day)
    if day <= deadline:
        deadline = date(day.year - 1, deadline_month, deadline_day)
    return Cycle(cohort_date=date(deadline.year - 1, 12, 31), deadline=deadline)


def born_by(cycle: Cycle) -> date:
    """The last birth date of someone 17 on the cycle's cohort date."""
    return birthday_at(cycle.cohort_date, -WAJIB_KTP_AGE)


async def prepare_preview(db: Connection, *, day: date, now: datetime) -> Run:
    """The run of the cycle whose deadline passed last; computed and stored on first call."""
    cycle = cycle_ended_before(day)
    async with transaction(db):
        if await store.get_run_for(db, cycle.deadline) is None:
            desa = await store.cohort_per_desa(db, born_by=born_by(cycle))
            await store.insert_run(
                db, deadline=cycle.deadline, cohort_date=cycle.cohort_date, desa=desa, now=now
            )
            detail = f"deadline={cycle.deadline} total={sum(d.count for d in desa)}"
            await audit.write_audit(db, None, "deactivation:preview", detail, now=now)
        row = await store.get_run_for(db, cycle.deadline)
    assert row is not None
    return _run(row)


async def get_run(db: Connection, run_id: int) -> Run:
    """The run with this id; RunNotFound otherwise."""
    row = await store.get_run(db, run_id)
    if row is None:
        raise RunNotFound(run_id=run_id)
    return _run(row)


async def count_now(db: Connection, run: Run) -> int:
    """How many NIKs approving `run` would deactivate at this moment."""
    return await store.count_cohort(db, born_by=born_by(run.cycle))


async def cohort_elsewhere(db: Connection, run: Run) -> list[PlaceCount]:
    """Those the approval would deactivate now whom a family reported living elsewhere, per
    place: shown as their own group so the admin decides knowingly; nobody is left out."""
    return await store.cohort_places(db, born_by=born_by(run.cycle))


def per_desa_csv(run: Run) -> str:
    """The preview's full per-desa list as CSV text (counts only, no NIKs)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kode_kecamatan", "kecamatan", "kode_desa", "desa", "jumlah"])
    for row in run.desa:
        writer.writerow(
            [row.kecamatan_code, row.kecamatan_name, row.desa_code, row.desa_name, row.count]
        )
    return out.getvalue()


async def approve(
    db: Connection,
    run_id: int,
    *,
    admin: RoleUser | None,
    today: date,
    now: datetime,
    notifier: Notifier,
) -> Approval:
    """Apply the run once: NONAKTIF for the still-unrecorded cohort, audit, linked notices."""
    admin = require_role(admin, "admin")
    async with transaction(db):
        run = await get_run(db, run_id)
        if run.applied:
            detail = f"run={run.id} already applied"
            await audit.write_audit(db, admin.telegram_id, "deactivation:approve", detail, now=now)
            return Approval(run, newly=False)
        linked = await store.cohort_linked_chats(db, born_by=born_by(run.cycle))
        count = await store.deactivate_cohort(db, born_by=born_by(run.cycle), today=today, now=now)
        await store.mark_applied(db, run.id, admin_id=admin.telegram_id, count=count, now=now)
        notices = [_notice(person, run.cycle) for person in linked]
        planned = await _plan_notices(db, notifier, notices, today=today, now=now)
        detail = f"run={run.id} deadline={run.cycle.deadline} deactivated={count} notices={planned}"
        await audit.write_audit(db, admin.telegram_id, "deactivation:approve", detail, now=now)
        return Approval(await get_run(db, run_id), newly=True, notices=planned)


async def _plan_notices(
    db: Connection,
    notifier: Notifier,
    notices: list[Notice],
    *,
    today: date,
    now: datetime,
) -> int:
    """Queue the notices inside the caller's transaction, keyed as the day-0 deactivated
    reminder is, so that job never sends the same notice again."""
    held = quiet_hours_end(now, notifier.quiet) if NOTICE_KIND in HELD_IN_QUIET_HOURS else None
    planned, vault = 0, vault_of(db)
    for notice in notices:
        locale = notice.locale or notifier.default_locale
        text, markup = notifier.compose(locale, notice)
        about = ("deactivated", notice.nik_ref, notice.chat_id, today)
        planned += await outbox_store.insert_message(
            db,
            key=reminder_key(vault, *about),
            plan=reminder_plan(*about),
            chat_id=notice.chat_id,
            kind=NOTICE_KIND,
            text=text,
            reply_markup_json=markup,
            not_before=held or now,
            now=now,
        )
    return planned


def _notice(person: store.LinkedPerson, cycle: Cycle) -> Notice:
    place = Place.from_key(person.elsewhere) if person.elsewhere else None
    return Notice(
        person.chat_id, person.nik, person.nama, cycle, person.locale, person.nik_ref, place
    )


def _run(row: store.RunRow) -> Run:
    return Run(
        id=row.id,
        cycle=Cycle(cohort_date=row.cohort_date, deadline=row.deadline),
        state=row.state,
        desa=row.desa,
        total=row.total,
        previewed_at=row.previewed_at,
        approved_by=row.approved_by,
        applied_at=row.applied_at,
        applied_count=row.applied_count,
    )
