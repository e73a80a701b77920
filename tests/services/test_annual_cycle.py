"""A whole annual cycle in time travel: every reminder the rules call for, and nothing else.

A generated population (households with teens turning 17, unrecorded adults, married teens,
residents deactivated earlier) is linked to simulated chats by NIK and by household. The clock
travels (time-machine) through 1 November 2026 - 31 October 2027; every day the reminder jobs run
at their WIB times through the job registry, the outbox is drained into the local Bot API server,
residents record, the annual deactivation is applied and visits are booked, cancelled and moved.
On some days the reminder jobs do not run (the next run catches up) or run only at 21:30, in
the quiet hours.

What every chat received is then compared with an oracle computed here from the rules, day by
day, independently of bot.services.reminders.
"""

from __future__ import annotations

import calendar
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from telegram import Bot

from bot.clock import SystemClock
from bot.config import TIMEZONE, Settings
from bot.db import transaction, vault_of
from bot.errors import BookingError
from bot.jobs.registry import job_spec, run_planner
from bot.jobs.sender import send_due
from bot.nik import make_nik
from bot.rendering import Renderer
from bot.services import booking as booking_service
from bot.services.schedule import free_slots
from bot.storage import chats, links
from bot.storage.residents import upsert_residents
from bot.storage.service_points import get_service_point, seed_service_points
from tests.conftest import SECRET_KEY, TOKEN

FIRST_DAY, LAST_DAY = date(2026, 11, 1), date(2027, 10, 31)
DEACTIVATION_DAY = date(2027, 5, 10)  # the admin approves the annual deactivation at 07:30
COHORT, DEADLINE = date(2026, 12, 31), date(2027, 4, 30)
DOWN_DAYS = {
    date(2026, 12, 15),
    date(2026, 12, 16),
    date(2027, 3, 31),
    date(2027, 4, 29),
    date(2027, 6, 9),
    date(2027, 8, 20),
    date(2027, 8, 21),
    date(2027, 8, 22),
}
LATE_DAYS = {
    date(2026, 11, 15),
    date(2027, 1, 15),
    date(2027, 4, 16),
    date(2027, 6, 8),
    date(2027, 9, 15),
}  # the reminder jobs only run at 21:30
REMINDER_JOBS = (
    ("teen-reminders", time(8, 0)),
    ("deadline-reminders", time(8, 15)),
    ("deactivated-reminders", time(8, 30)),
)
LATE = time(21, 30)
CATCH_UP = 7
DESAS = ("3505102001", "3505032001")
FIRST_NAMES = ("Dewi", "Rudi", "Ani", "Budi", "Sri", "Agus", "Wahyu", "Siti", "Eko", "Rina")
FAMILIES = ("Santoso", "Lestari", "Wibowo", "Hidayat", "Susanti", "Prasetyo", "Rahayu")


@dataclass
class Resident:
    """The oracle's own record of one resident (its state moves with the events)."""

    nik: str
    kk: str
    name: str
    birth: date
    sex: str
    married: bool
    recorded: date | None
    active: bool = True
    deactivated_on: date | None = None
    records_on: date | None = None  # records at 12:00 WIB that day

    def row(self) -> tuple:
        kawin = "KAWIN" if self.married else "BELUM KAWIN"
        rekam = self.recorded.isoformat() if self.recorded else None
        status = "AKTIF" if self.active else "NONAKTIF"
        desa = DESAS[int(self.kk[-1]) % 2]
        return (
            self.nik,
            self.kk,
            self.name,
            self.birth.isoformat(),
            self.sex,
            kawin,
            desa,
            rekam,
            status,
        )


@dataclass
class Chat:
    chat_id: int
    locale: str
    links: list[tuple[str, str, bool]] = field(default_factory=list)  # kind, subject, on


@dataclass
class Visit:
    """A booking as the test made it: (id, start) while active, None once cancelled."""

    booking_id: int
    chat_id: int
    start_at: datetime | None


def population(rng: random.Random) -> list[Resident]:
    people: list[Resident] = []

    def add(kk, born, sex, *, married=False, recorded=None):
        serial = len(people) + 1
        nik = make_nik(DESAS[int(kk[-1]) % 2][:6], born, sex, serial)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(FAMILIES)} {serial:03d}"
        person = Resident(nik, kk, name, born, sex, married, recorded)
        people.append(person)
        return person

    def day_between(first: date, last: date) -> date:
        return first + timedelta(days=rng.randrange((last - first).days + 1))

    for household in range(80):
        kk = f"35051001{household:08d}"
        for sex in ("L", "P"):
            unrecorded = rng.random() < 0.15
            born = day_between(date(1965, 1, 1), date(1995, 12, 31))
            add(kk, born, sex, married=True, recorded=None if unrecorded else date(2014, 3, 1))
        for _ in range(rng.randint(1, 3)):
            born = day_between(date(2005, 6, 1), date(2011, 12, 31))
            married = born < date(2010, 1, 1) and rng.random() < 0.1
            adult = birthday(born, 17)
            recorded = None
            if adult < date(2026, 6, 1) and rng.random() < 0.4:
                recorded = adult + timedelta(days=40)
            add(kk, born, rng.choice("LP"), married=married, recorded=recorded)
    for person in people:
        wajib_2025 = person.married or birthday(person.birth, 17) <= date(2024, 12, 31)
        if person.recorded is None and wajib_2025 and rng.random() < 0.3:
            person.active = False
            person.deactivated_on = day_between(date(2025, 5, 5), date(2026, 10, 20))
        if person.recorded is None and rng.random() < 0.25:
            person.records_on = day_between(FIRST_DAY, LAST_DAY)
    return people


def link_chats(rng: random.Random, people: list[Resident]) -> list[Chat]:
    households: dict[str, list[Resident]] = {}
    for person in people:
        households.setdefault(person.kk, []).append(person)
    result: list[Chat] = []

    def new_chat() -> Chat:
        chat = Chat(70_000 + len(result), "en" if rng.random() < 0.25 else "id")
        result.append(chat)
        return chat

    for kk, members in households.items():
        interesting = any(p.recorded is None for p in members)
        if rng.random() < (0.5 if interesting else 0.1):
            chat = new_chat()
            chat.links.append(("household", kk, rng.random() > 0.1))
            if rng.random() < 0.3:  # the same chat also linked one member by NIK
                chat.links.append(("nik", rng.choice(members).nik, True))
        for person in members:
            if person.recorded is None and rng.random() < 0.3:
                chat = new_chat()
                chat.links.append(("nik", person.nik, rng.random() > 0.1))
    return result


def birthday(birth: date, years: int) -> date:
    """The oracle's own anniversary: 29 February counts from 1 March."""
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(birth.year + years):
        return date(birth.year + years, 3, 1)
    return date(birth.year + years, birth.month, birth.day)


# --- the oracle: what the rules say about one resident on one day ---


def teen_due_on(person: Resident, day: date) -> bool:
    b17 = birthday(person.birth, 17)
    deadline = date(b17.year + 1, 4, 30)
    if day in (b17 - timedelta(days=30), b17):
        return True
    last_of_month = calendar.monthrange(day.year, day.month)[1]
    if b17 < day <= deadline and day.day == min(b17.day, last_of_month):
        return True
    return (deadline - day).days in (30, 14, 7, 3, 1)


def teen_deadline(person: Resident) -> date:
    return date(birthday(person.birth, 17).year + 1, 4, 30)


def cycle_deadline(day: date) -> date:
    april = date(day.year, 4, 30)
    return april if day <= april else date(day.year + 1, 4, 30)


def expected_due(kind: str, person: Resident, since: date, today: date) -> date | None:
    """The due day a run for [since, today] plans for this resident and kind, or None."""
    window = [since + timedelta(days=n) for n in range((today - since).days + 1)]
    unrecorded = person.recorded is None
    if kind == "teen":
        if not (unrecorded and person.active and not person.married):
            return None
        if today > teen_deadline(person):
            return None
        due = [day for day in window if teen_due_on(person, day)]
    elif kind == "deadline":
        deadline = cycle_deadline(today)
        cohort = date(deadline.year - 1, 12, 31)
        b17 = birthday(person.birth, 17)
        wajib = person.married or b17 <= cohort
        a_teen_of_the_cycle = not person.married and b17.year == cohort.year
        if not (unrecorded and person.active and wajib) or a_teen_of_the_cycle:
            return None
        due = [day for day in window if (deadline - day).days in (30, 14, 7, 3, 1)]
    else:
        if not (unrecorded and not person.active and person.deactivated_on):
            return None
        start = person.deactivated_on
        due = [day for day in window if day >= start and (day - start).days % 30 == 0]
    return max(due, default=None)


def delivery_day(planned_at: datetime) -> date:
    """Reminders planned in quiet hours (20:00-07:00 WIB) go out the next morning."""
    local = planned_at.astimezone(TIMEZONE)
    return local.date() + timedelta(days=1) if local.time() >= time(20, 0) else local.date()


# --- the simulation ---


class Simulation:
    def __init__(self, db, botapi, bot, people, chat_list, traveller):
        self.db, self.botapi, self.bot, self.traveller = db, botapi, bot, traveller
        self.people = {p.nik: p for p in people}
        self.chats = chat_list
        self.renderer = Renderer()
        self.settings = Settings.from_env(
            {"BOT_TOKEN": TOKEN, "DATABASE_PATH": ":memory:", "SECRET_KEY": SECRET_KEY}
        )
        self.reach: dict[int, set[str]] = {}
        for chat in chat_list:
            reached = self.reach.setdefault(chat.chat_id, set())
            for kind, subject, on in chat.links:
                if on:
                    reached |= {p.nik for p in people if subject in (p.nik, p.kk)}
                    if kind == "nik":
                        assert subject in self.people
        self.last_run: dict[str, date] = {}
        self.expected: list[tuple[int, str, str, date, date]] = []  # chat, nik, kind, due, day
        self.expected_bookings: list[tuple[int, str, int, datetime, datetime]] = []
        self.visits: list[Visit] = []

    def now(self) -> datetime:
        return SystemClock().now()

    async def at(self, day: date, moment: time) -> datetime:
        """Travel to `moment` WIB on `day`, then send what is due."""
        self.traveller.move_to(datetime.combine(day, moment, tzinfo=TIMEZONE), tick=False)
        await self.drain()
        return self.now()

    async def drain(self) -> None:
        while await send_due(self.bot, self.db, now=self.now(), limit=100):
            pass

    async def plan(self, job: str, at: time, day: date) -> int:
        return await run_planner(
            job_spec(job),
            at,
            db=self.db,
            renderer=self.renderer,
            settings=self.settings,
            day=day,
            now=self.now(),
        )

    async def reminder_jobs(self, day: date, *, late: bool) -> None:
        for job, at in REMINDER_JOBS:
            await self.at(day, LATE if late else at)
            last = self.last_run.get(job)
            since = (
                day if last is None else max(last + timedelta(days=1), day - timedelta(CATCH_UP))
            )
            self.last_run[job] = day
            kind = job.removesuffix("-reminders")
            for chat_id, niks in self.reach.items():
                for nik in sorted(niks):
                    due = expected_due(kind, self.people[nik], since, day)
                    if due is not None:
                        self.expected.append((chat_id, nik, kind, due, delivery_day(self.now())))
            await self.plan(job, at, day)
            await self.drain()

    async def booking_job(self, day: date, at: time) -> None:
        now = await self.at(day, at)
        evening = at >= time(16, 0)
        for visit in self.visits:
            if visit.start_at is None:
                continue
            start_day = visit.start_at.astimezone(TIMEZONE).date()
            if evening and start_day == day + timedelta(days=1):
                self.expected_bookings.append(
                    (visit.chat_id, "eve", visit.booking_id, visit.start_at, now)
                )
            if not evening and start_day == day and visit.start_at > now:
                self.expected_bookings.append(
                    (visit.chat_id, "morning", visit.booking_id, visit.start_at, now)
                )
        await self.plan("booking-reminders", at, day)
        await self.drain()

    async def events(self, day: date, rng: random.Random) -> None:
        """At 12:00 WIB: recordings (a deactivated NIK is re-activated) and bookings."""
        now = await self.at(day, time(12, 0))
        for person in self.people.values():
            if person.records_on == day and person.recorded is None:
                person.recorded, person.active, person.deactivated_on = day, True, None
                async with transaction(self.db):
                    await self.db.execute(
                        "UPDATE residents SET tanggal_rekam = ?, status_nik = 'AKTIF',"
                        " updated_at = ? WHERE nik_ref = ref_of(?)",
                        (day.isoformat(), now.isoformat(), person.nik),
                    )
        if day.weekday() == 1 and day.day <= 21:  # some Tuesdays: book, cancel, move
            await self.book_cancel_move(day, rng, now)

    async def deactivate(self, day: date) -> None:
        """The annual deactivation, approved at 07:30 WIB: unrecorded wajib KTP of the cohort."""
        now = await self.at(day, time(7, 30))
        for person in self.people.values():
            wajib = person.married or birthday(person.birth, 17) <= COHORT
            if person.active and person.recorded is None and wajib:
                person.active, person.deactivated_on = False, day
                async with transaction(self.db):
                    await self.db.execute(
                        "UPDATE residents SET status_nik = 'NONAKTIF', updated_at = ?"
                        " WHERE nik_ref = ref_of(?)",
                        (now.isoformat(), person.nik),
                    )

    async def book_cancel_move(self, day: date, rng: random.Random, now: datetime) -> None:
        point = await get_service_point(self.db, "kanigoro")
        chat = rng.choice([c for c in self.chats if self.reach[c.chat_id]])
        nik = sorted(self.reach[chat.chat_id])[0]
        visit = await self.book(point, chat.chat_id, nik, day + timedelta(days=2), now)
        if visit is None:
            return
        if rng.random() < 0.3:  # cancelled the same day: no reminder at all
            await booking_service.cancel(self.db, visit.booking_id, chat_id=chat.chat_id, now=now)
            visit.start_at = None
        elif rng.random() < 0.5:  # moved three days on: reminded of the new time only
            slots = await self.free(point, day + timedelta(days=5), now)
            if slots:
                moved = await booking_service.reschedule(
                    self.db,
                    visit.booking_id,
                    chat_id=chat.chat_id,
                    start_at=slots[-1].start_at,
                    now=now,
                )
                visit.start_at = moved.start_at

    async def free(self, point, first: date, now: datetime):
        for offset in range(7):
            slots = await free_slots(self.db, point, first + timedelta(days=offset), now=now)
            if slots:
                return slots
        return []

    async def book(self, point, chat_id: int, nik: str, first: date, now: datetime):
        slots = await self.free(point, first, now)
        if not slots:
            return None
        try:
            booking = await booking_service.book(
                self.db,
                chat_id=chat_id,
                nik=nik,
                service="rekam",
                point_code="kanigoro",
                start_at=slots[0].start_at,
                now=now,
            )
        except BookingError:
            return None  # e.g. the person still holds an earlier visit
        visit = Visit(booking.id, chat_id, booking.start_at)
        self.visits.append(visit)
        return visit


@pytest.fixture
async def bot(botapi):
    async with Bot(TOKEN, base_url=botapi.base_url) as bot:
        yield bot


async def _seed(db, people: list[Resident], chat_list: list[Chat], start: datetime) -> None:
    await seed_service_points(db)
    async with transaction(db):
        await upsert_residents(db, [p.row() for p in people], now=start)
        for person in people:
            if person.deactivated_on:
                await db.execute(
                    "UPDATE residents SET deactivated_on = ? WHERE nik_ref = ref_of(?)",
                    (person.deactivated_on.isoformat(), person.nik),
                )
        for chat in chat_list:
            await chats.set_locale(db, chat.chat_id, chat.locale, now=start)
            for kind, subject, on in chat.links:
                await links.insert_link(db, chat.chat_id, kind, subject, now=start)
                if not on:
                    await db.execute(
                        "UPDATE links SET reminders_on = 0"
                        " WHERE chat_id = ? AND subject_ref = ref_of(?)",
                        (chat.chat_id, subject),
                    )


async def test_a_year_of_reminders_matches_the_rules(db, botapi, bot):
    rng = random.Random(20261101)
    people = population(rng)
    chat_list = link_chats(rng, people)
    users = {chat.chat_id: botapi.user(chat.chat_id) for chat in chat_list}
    start = datetime.combine(FIRST_DAY, time(0, 5), tzinfo=TIMEZONE)
    await _seed(db, people, chat_list, start.astimezone(UTC))

    with time_machine.travel(start, tick=False) as traveller:
        sim = Simulation(db, botapi, bot, people, chat_list, traveller)
        day = FIRST_DAY
        while day <= LAST_DAY:
            await sim.booking_job(day, time(6, 30))
            await sim.at(day, time(7, 0))  # the quiet hours end: held reminders go out
            if day == DEACTIVATION_DAY:
                await sim.deactivate(day)
            if day not in DOWN_DAYS and day not in LATE_DAYS:
                await sim.reminder_jobs(day, late=False)
            await sim.events(day, rng)
            await sim.booking_job(day, time(16, 0))
            if day in LATE_DAYS:
                await sim.reminder_jobs(day, late=True)
            day += timedelta(days=1)
        await sim.at(day, time(7, 0))

    await _compare(db, sim, users)


async def _compare(db, sim: Simulation, users) -> None:
    async with db.execute(
        "SELECT chat_id, telegram_message_id, idempotency_key, kind, state,"
        " unseal(plan, 'outbox.plan', idempotency_key) FROM outbox"
    ) as cursor:
        rows = await cursor.fetchall()
    assert {state for *_, state, _ in rows} <= {"sent", "withdrawn"}  # nothing lost or stuck
    # A done reminder about a resident keeps no chat: its sealed plan names it (ref:kind:chat:due).
    assert {chat for chat, *_, plan in rows if plan} == {0}
    by_message = {
        (int(plan.split(":")[2]) if plan else chat, message_id): (plan or key, kind)
        for chat, message_id, key, kind, _, plan in rows
    }
    ref_to_nik = {vault_of(db).ref(nik).hex(): nik for nik in sim.people}

    received, received_bookings = [], []
    for chat_id, user in users.items():
        locale = next(c.locale for c in sim.chats if c.chat_id == chat_id)
        for message in user.inbox:
            key, kind = by_message[(chat_id, message.message_id)]
            moment = datetime.fromtimestamp(message.message["date"], TIMEZONE)
            if kind == "booking":
                _, booking_id, which, start = key.split(":", 3)
                received_bookings.append(
                    (chat_id, which, int(booking_id), datetime.fromisoformat(start), moment)
                )
                continue
            ref, rule, key_chat, due = key.split(":")
            nik = ref_to_nik[ref]
            assert int(key_chat) == chat_id
            assert time(7, 0) <= moment.time() < time(20, 0), f"{key} sent in quiet hours"
            assert sim.people[nik].name in message.text  # about the right person
            assert nik not in message.text
            label = "Book a recording visit" if locale == "en" else "Pesan antrean perekaman"
            assert message.buttons == [(f"🗓 {label}", "bk:start:rekam")]
            received.append((chat_id, nik, rule, date.fromisoformat(due), moment.date()))

    # Exactly the reminders the rules call for, each once, on the right WIB day.
    assert Counter(received) == Counter(sim.expected)
    assert len(set(received)) == len(received)
    per_person_day = Counter((chat, nik, day) for chat, nik, _, _, day in received)
    assert max(per_person_day.values()) == 1  # never two reminders about one person a day
    # The morning question at 06:30 and the eve reminder at 16:00, for the visits as they
    # stood then: none for a cancelled visit, a moved one only for its new time.
    expected_bookings = [
        (c, w, b, s, m.astimezone(TIMEZONE)) for c, w, b, s, m in sim.expected_bookings
    ]
    assert sorted(received_bookings) == sorted(expected_bookings)

    # The year covered what it is meant to prove.
    kinds = Counter(rule for _, _, rule, _, _ in received)
    assert kinds["teen"] >= 100, kinds
    assert kinds["deadline"] >= 30, kinds
    assert kinds["deactivated"] >= 30, kinds
    assert any(due != day for *_, due, day in received)  # caught up or held overnight
    assert any(due < day - timedelta(days=1) for *_, due, day in received)  # after down days
    assert {w for _, w, *_ in received_bookings} == {"eve", "morning"}
    assert any(v.start_at is None for v in sim.visits)  # a cancelled visit was in the year
