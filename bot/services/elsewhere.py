"""Residents who live elsewhere: a chat reports that one of its linked people lives in another
regency or city of Indonesia, or abroad, since a month, optionally why.

It is the reporter's word. It changes the reminders that chat gets about the person (how to
record away from home; from abroad, the office's advice to contact it, without countdowns), and
officials and admins see it counted; it never exempts anyone from anything. Reported, changed
and withdrawn reports are audited without the chat or the resident (the audit log is kept for
ever, the report only until it is withdrawn or the chat erased).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import get_month_names

from bot.db import transaction, vault_of
from bot.domain import Resident
from bot.engine import Connection
from bot.errors import DomainError
from bot.places import HOME_REGENCY, INDONESIA, Place, find_countries, find_regencies, readable
from bot.services import outbox
from bot.services.figures import ages_on
from bot.services.links import chat_links
from bot.storage import audit
from bot.storage import elsewhere as store
from bot.storage.elsewhere import PlaceCount, Report

REASONS = ("work", "study", "marriage", "other")
EARLIEST_YEAR = 1900
_UNKNOWN = {"regency": "unknown_regency", "abroad": "unknown_country"}
_NUMERIC_MONTH = re.compile(r"^(\d{1,2})\s*[-/.\s]\s*(\d{4})$|^(\d{4})\s*[-/.]\s*(\d{1,2})$")


class PlaceRefused(DomainError):
    """A typed place that cannot be used; `kind` says why (unreadable, unknown_regency,
    unknown_country, home, indonesia)."""

    template = "citizen/elsewhere_error.html"


class MonthRefused(DomainError):
    """A typed month that cannot be used; `kind`: month_format, month_future, month_before."""

    template = "citizen/elsewhere_error.html"


class NotLinked(DomainError):
    """The person is not linked to this chat (an old button, or someone else's)."""

    template = "citizen/elsewhere_error.html"
    kind = "not_linked"


class ReportNotFound(DomainError):
    """The report is gone or belongs to another chat (an old or forged button)."""

    template = "citizen/error_stale_button.html"


@dataclass(frozen=True)
class Person:
    """A person linked to the chat, with the chat's report about them if it made one."""

    resident: Resident
    report: Report | None


def places_named(text: str, kind: str) -> list[Place]:
    """The regencies/cities (kind `regency`) or countries (`abroad`) a typed name may mean;
    PlaceRefused when it is no name, names nothing, or names home (Blitar, Indonesia)."""
    tidy = readable(text)
    if tidy is None:
        raise PlaceRefused(kind="unreadable", place_kind=kind)
    found = find_regencies(tidy) if kind == "regency" else find_countries(tidy)
    home = HOME_REGENCY if kind == "regency" else INDONESIA
    elsewhere = [place for place in found if place.code != home]
    if found and not elsewhere:
        raise PlaceRefused(kind="home" if kind == "regency" else "indonesia", place_kind=kind)
    if not elsewhere:
        raise PlaceRefused(kind=_UNKNOWN[kind], place_kind=kind, typed=tidy)
    return elsewhere


def parse_month(text: str, *, born: date, today: date) -> date:
    """The first day of a typed month and year: `03-2025`, `3/2025`, `2025-03`, `Maret 2025`,
    `Mar 2025`, `March 2025`; not after this month and not before the person's birth."""
    month = _read_month(" ".join(text.lower().split()))
    if month is None:
        raise MonthRefused(kind="month_format", today=today)
    return check_month(month, born=born, today=today)


def check_month(month: date, *, born: date, today: date) -> date:
    """The first day of `month`, if it is neither after this month nor before the birth."""
    month = month.replace(day=1)
    if month > today.replace(day=1):
        raise MonthRefused(kind="month_future", today=today)
    if month < born.replace(day=1):
        raise MonthRefused(kind="month_before", born=born, today=today)
    return month


def _read_month(text: str) -> date | None:
    numeric = _NUMERIC_MONTH.match(text)
    if numeric:
        month, year = numeric.group(1, 2) if numeric.group(1) else numeric.group(4, 3)
        return _month(int(year), int(month))
    name, _, year = text.rpartition(" ")
    if not year.isascii() or not year.isdigit() or len(year) != 4:
        return None
    for locale in ("id", "en"):
        for width in ("wide", "abbreviated"):
            names = get_month_names(width, locale=locale)
            for number, month_name in names.items():
                if name.rstrip(".") == str(month_name).lower().rstrip("."):
                    return _month(int(year), number)
    return None


def _month(year: int, month: int) -> date | None:
    return date(year, month, 1) if 1 <= month <= 12 and year >= EARLIEST_YEAR else None


async def linked_people(db: Connection, chat_id: int) -> list[Person]:
    """Everyone the chat's links cover (each once, in link order), with the chat's report."""
    reports = {report.nik: report for report in await store.list_reports(db, chat_id)}
    people: dict[str, Person] = {}
    for view in await chat_links(db, chat_id):
        for resident in view.people:
            people.setdefault(resident.nik, Person(resident, reports.get(resident.nik)))
    return list(people.values())


async def linked_person(db: Connection, chat_id: int, number: int) -> Person:
    """The `number`-th (from 1) person of `linked_people`; NotLinked when there is none."""
    people = await linked_people(db, chat_id)
    if not 1 <= number <= len(people):
        raise NotLinked()
    return people[number - 1]


async def report(
    db: Connection,
    chat_id: int,
    nik: str,
    place: Place,
    *,
    since: date,
    reason: str | None,
    today: date,
    now: datetime,
) -> Report:
    """Store (or change) the chat's report that a person linked to it lives at `place` since
    the month of `since`; audited. NotLinked when the chat has no link covering the person."""
    if reason is not None and reason not in REASONS:
        raise ValueError(f"unknown reason {reason}")
    person = next((p for p in await linked_people(db, chat_id) if p.resident.nik == nik), None)
    if person is None:
        raise NotLinked()
    since = check_month(since, born=person.resident.tanggal_lahir, today=today)
    if Place.from_key(place.key) is None:
        raise PlaceRefused(kind=_UNKNOWN.get(place.kind, "unknown_country"), place_kind=place.kind)
    async with transaction(db):
        report_id, new = await store.save_report(
            db,
            chat_id,
            nik,
            place_kind=place.kind,
            place_code=place.code,
            since=since,
            reason=reason,
            now=now,
        )
        action = "elsewhere:reported" if new else "elsewhere:changed"
        detail = f"report={report_id} place={place.key} since={since:%Y-%m} reason={reason or '-'}"
        await audit.write_audit(db, None, action, detail, now=now)
    found = await store.get_report(db, report_id, chat_id)
    assert found is not None
    return found


async def withdraw(db: Connection, chat_id: int, report_id: int, *, now: datetime) -> Report:
    """Withdraw one of the chat's reports; its reminders are as before from the next one on.
    Reminders about the person already queued (written for someone elsewhere) are withdrawn."""
    async with transaction(db):
        found = await store.get_report(db, report_id, chat_id)
        if found is None:
            raise ReportNotFound()
        await store.delete_report(db, report_id)
        await outbox.withdraw_about(db, chat_id, [vault_of(db).ref(found.nik)], now=now)
        await audit.write_audit(db, None, "elsewhere:withdrawn", f"report={report_id}", now=now)
    return found


async def area_places(db: Connection, code: str, *, today: date) -> list[PlaceCount]:
    """The area's unrecorded residents (outreach groups) reported living elsewhere, per place."""
    return await store.area_places(db, code, ages=ages_on(today))
