"""The month before the sandbox's first moment, as an office's database would have it, so that
/rekap's and /statistik's charts and the outreach list have something to show at any size of
the sample population.

- Minggirsari's neighbours the bot cannot reach, imported with their address (alamat, RT, RW):
  the official's outreach list (CSV and PDF) always has someone to visit.
- Teens of Kecamatan Kanigoro who turned 17 this cycle, each linked to the phone of someone the
  page does not show. The bot's own reminder rules (bot/services/reminders.py) are run for each
  morning of the last 30 days; what they find is rendered, queued and marked sent. After their
  reminder most of them book a recording at the Kanigoro kecamatan office, where the demo's
  staff member confirms, checks them in and records them; some do not come; some never book.
  So the funnel (reminded, booked, came, recorded), the service point's bookings and no-shows
  and the teens' week-by-week line all move.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import aiosqlite

from bot.config import TIMEZONE
from bot.db import vault_of
from bot.domain import Resident, Sex
from bot.nik import make_nik
from bot.rendering import Renderer
from bot.sample import export_row
from bot.services import booking, frontdesk, outbox, reminders
from bot.services.cycle import birthday_at
from bot.services.directory import get_service_point, get_user
from bot.services.importer import ADDRESS_HEADER, CSV_HEADER, import_residents
from bot.services.links import link_chat
from bot.services.schedule import next_free_slots, wib_day
from bot.views import reminders as views
from sandbox.identities import KANIGORO, MINGGIRSARI, PAPUNGAN, RECORDING_POINT

DAYS = 30  # the history's length: the period of the charts' activity figures
SERIAL = 9101  # NIK serials above the planted identities' (9001...), below 10000
KK_SERIAL = 9201
PHONES = 7_000_001  # the Telegram ids of the teens' phones, far from the identities'
DESA = (MINGGIRSARI, "35.05.10.2002", "35.05.10.2003", PAPUNGAN)  # Minggirsari and neighbours
TEENS: tuple[tuple[str, Sex], ...] = (
    ("RIZKA AMELIA", "P"), ("BAGAS PRATAMA", "L"), ("NADIA PUSPITA", "P"), ("FIKRI MAULANA", "L"),
    ("SELVI ANGGRAINI", "P"), ("DIMAS SAPUTRA", "L"), ("AULIA RAHMA", "P"), ("YOGI SETIAWAN", "L"),
    ("PUTRI AYU LESTARI", "P"), ("ARDIAN SYAHPUTRA", "L"), ("WINDA SARI", "P"),
    ("RENDI KURNIAWAN", "L"),
)  # fmt: skip
WALK = "Dusun Krajan"  # the neighbours' hamlet in Minggirsari


@dataclass(frozen=True)
class Teen:
    """A teen of the history, their phone, and what they did after the reminder."""

    resident: Resident
    chat_id: int
    fate: str  # recorded / no_show / not_booked


@dataclass(frozen=True)
class Neighbour:
    """A Minggirsari resident the bot cannot reach, with their address."""

    resident: Resident
    alamat: str
    rt: str
    rw: str


def teens(today: date) -> list[Teen]:
    """The reminded teens: 17 between 20 and 141 days ago, four of them in Minggirsari; of each
    four, two were recorded, one did not come, one has not booked."""
    fates = ("recorded", "recorded", "no_show", "not_booked")
    found = []
    for n, (name, sex) in enumerate(TEENS):
        born = birthday_at(today - timedelta(days=20 + 11 * n), -17)
        kk = _kk(date(2008, 1, 7) + timedelta(days=40 * n), n)
        person = _resident(name, born, sex, n, kk, desa=DESA[n // 4 % len(DESA)])
        found.append(Teen(person, PHONES + n, fates[n % len(fates)]))
    return found


def neighbours(today: date) -> list[Neighbour]:
    """A household of Minggirsari and a man next door: a mother never recorded, a son turning
    17 this cycle, not recorded, and a deactivated NIK (imported NONAKTIF), none linked."""
    kk = _kk(date(2006, 4, 3), 20)
    son_born = birthday_at(today - timedelta(days=60), -17)
    father = _resident(
        "SUPRIYADI", date(1978, 2, 14), "L", 20, kk, kawin="KAWIN", recorded=date(2012, 9, 1)
    )
    mother = _resident("KASMINI", date(1981, 7, 30), "P", 20, kk, kawin="KAWIN")
    son = _resident("RIZKY SUPRIYADI", son_born, "L", 21, kk)
    other = _resident(
        "SAMSUL HADI", date(1996, 11, 2), "L", 22, _kk(date(2015, 3, 9), 21), status="NONAKTIF"
    )
    return [
        Neighbour(father, WALK, "002", "001"),
        Neighbour(mother, WALK, "002", "001"),
        Neighbour(son, WALK, "002", "001"),
        Neighbour(other, WALK, "003", "001"),
    ]


def write_residents(path: Path, people: list[Teen] | list[Neighbour]) -> Path:
    """People as a SIAK export; neighbours with the three address columns."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if all(isinstance(p, Neighbour) for p in people):
            writer.writerow(CSV_HEADER + ADDRESS_HEADER)
            writer.writerows(
                [*export_row(p.resident), p.alamat, p.rt, p.rw]
                for p in people
                if isinstance(p, Neighbour)
            )
        else:
            writer.writerow(CSV_HEADER)
            writer.writerows(export_row(p.resident) for p in people if isinstance(p, Teen))
    return path


async def import_history_people(
    conn: aiosqlite.Connection, folder: Path, today: date, *, now: datetime, deactivated: datetime
) -> None:
    """Import the teens and the neighbours; a NONAKTIF neighbour as of the day the last annual
    deactivation was applied."""
    people = neighbours(today)
    batches = (
        (write_residents(folder / "history-teens.csv", teens(today)), now),
        (write_residents(folder / "history-active.csv", _active(people, True)), now),
        (write_residents(folder / "history-inactive.csv", _active(people, False)), deactivated),
    )
    for path, moment in batches:
        report = await import_residents(conn, path, now=moment)
        if report.rejected:
            raise RuntimeError(f"history residents rejected: {report.rejected}")


async def play_last_month(
    conn: aiosqlite.Connection, today: date, *, staff_id: int, seed: int
) -> None:
    """Link the teens' phones, then for each morning of the last DAYS days send the reminders
    the bot's rules find due to them, and play what each teen did next."""
    people = teens(today)
    first = today - timedelta(days=DAYS)
    for teen in people:
        await link_chat(conn, teen.chat_id, teen.resident, household=False, now=_at(first, 7))
    fates = {teen.chat_id: teen for teen in people}
    rng = random.Random(seed)
    renderer = Renderer()
    for offset in range(DAYS):
        day = first + timedelta(days=offset)
        for sent in await _send_reminders(conn, renderer, day, phones=set(fates)):
            teen = fates[sent.chat_id]
            if teen.fate != "not_booked":
                await _visit(conn, teen, day, today=today, staff_id=staff_id, rng=rng)


def phone_names(today: date) -> list[tuple[int, str]]:
    """The teens' phones as Telegram users: (id, first name)."""
    return [(teen.chat_id, teen.resident.nama.split()[0].title()) for teen in teens(today)]


async def _send_reminders(
    conn: aiosqlite.Connection, renderer: Renderer, day: date, *, phones: set[int]
) -> list[reminders.Reminder]:
    """The day's teen reminders to the phones, planned at 08:00 and delivered at once."""
    due = [
        r for r in await reminders.teen_reminders(conn, since=day, today=day) if r.chat_id in phones
    ]
    markup = views.book_recording(renderer, "id").to_json()
    vault = vault_of(conn)
    planned = [
        outbox.Planned(
            r.key(vault), r.chat_id, "reminder", views.reminder_text(renderer, "id", r), markup,
            plan=r.plan,
        )
        for r in due
    ]  # fmt: skip
    await outbox.enqueue_many(conn, planned, now=_at(day, 8))
    for message in await outbox.claim_due(conn, now=_at(day, 8, 1), limit=len(planned) + 1):
        if message.chat_id not in phones:
            raise RuntimeError("the history found a message for someone else queued")
        await outbox.mark_sent(conn, message.id, message.id, _at(day, 8, 1))
    return due


async def _visit(
    conn: aiosqlite.Connection,
    teen: Teen,
    reminded: date,
    *,
    today: date,
    staff_id: int,
    rng: random.Random,
) -> None:
    """That evening the teen books the first free place from the day after next; the staff
    member confirms; on the day the teen comes and is recorded, or does not come. Nothing
    happens when that day is not over before the sandbox's first day."""
    point = await get_service_point(conn, RECORDING_POINT)
    staff = await get_user(conn, staff_id)
    assert point is not None and staff is not None, "the demo's recording point and staff"
    evening = _at(reminded, 19)
    slots = await next_free_slots(conn, point, _at(reminded + timedelta(days=2), 0), now=evening)
    if not slots or wib_day(slots[0].start_at) >= today:
        return
    start = slots[0].start_at
    made = await booking.book(
        conn,
        chat_id=teen.chat_id,
        nik=teen.resident.nik,
        service="rekam",
        point_code=point.code,
        start_at=start,
        now=evening,
        rng=rng,
    )
    if made.state == "pending":
        await frontdesk.confirm(conn, made.id, staff=staff, now=evening + timedelta(hours=14))
    if teen.fate == "no_show":
        await frontdesk.record_outcome(
            conn, made.id, "no_show", staff=staff, now=_at(wib_day(start), 16)
        )
        return
    await frontdesk.check_in(conn, made.code, staff=staff, now=start + timedelta(minutes=5))
    await frontdesk.record_outcome(
        conn, made.id, "recorded", staff=staff, now=start + timedelta(minutes=20)
    )


def _active(people: list[Neighbour], active: bool) -> list[Neighbour]:
    return [p for p in people if p.resident.active == active]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TIMEZONE)


def _kk(issued: date, number: int) -> str:
    return f"{KANIGORO}{issued:%d%m%y}{KK_SERIAL + number:04d}"


def _resident(
    nama: str,
    born: date,
    sex: Sex,
    number: int,
    kk: str,
    *,
    desa: str = MINGGIRSARI,
    kawin: str = "BELUM KAWIN",
    recorded: date | None = None,
    status: str = "AKTIF",
) -> Resident:
    nik = make_nik(KANIGORO, born, sex, SERIAL + number)
    return Resident(nik, kk, nama, born, sex, kawin, desa, recorded, status)
