"""Every figure, at every level, against a count made here from the generated population.

The population comes from bot.sample (the truth is in the rows it yields); links, blocked chats,
reminders, bookings, tickets and re-activations are planted at random (seeded) and remembered.
The expected figures are computed in Python from that record, never with the bot's SQL.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.db import transaction, vault_of
from bot.domain import TICKET_STATES
from bot.nik import make_nik
from bot.sample import generate_residents, write_export
from bot.services import breakdown, drives, outbox
from bot.services.figures import (
    REGENCY_CODE,
    Figures,
    ages_on,
    area_scope,
    figures,
    point_scope,
)
from bot.services.importer import import_residents
from bot.storage import bookings, chats, links, tickets
from bot.storage import figures as figures_store
from bot.storage import outbox as outbox_store
from bot.storage.areas import list_kecamatan
from bot.storage.closures import insert_closure
from bot.storage.service_points import (
    get_service_point,
    list_service_points,
    seed_service_points,
)
from tests.conftest import Person, write_population

TODAY = date(2026, 11, 24)  # cycle in force: cohort 31 Dec 2026, teens born in 2009
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
FIRST, LAST = date(2026, 10, 26), TODAY
ADULT_BY = date(2009, 11, 24)  # born by this day: 17 today
BOOKING_STATES = (
    "pending", "confirmed", "checked_in", "recorded", "handed_over", "no_show", "cancelled",
    "rejected", "released",
)  # fmt: skip
TICKET_PATH = ("verified", "printed", "ready", "not_collected", "handed_over")


@dataclass
class Truth:
    """What was planted, as the test knows it."""

    people: list[dict[str, str]]
    reachable_niks: set[str] = field(default_factory=set)
    reachable_kks: set[str] = field(default_factory=set)
    reactivated: set[str] = field(default_factory=set)
    reminded: dict[str, list[date]] = field(default_factory=dict)  # NIK -> due days sent
    bookings: list[tuple[str, str, date, str]] = field(default_factory=list)  # nik, point, day
    tickets: list[tuple[str, str, str]] = field(default_factory=list)  # nik, point, state
    at_drives: set[tuple[str, str]] = field(default_factory=set)  # (NIK, day) recorded at a drive


def _born(person: dict[str, str]) -> date:
    return date.fromisoformat(person["tanggal_lahir"])


def _desa(person: dict[str, str]) -> str:
    return person["kode_desa"].replace(".", "")


@pytest.fixture
async def town(engine_areas, tmp_path):
    """The town on each engine in turn."""
    db = engine_areas
    rng = random.Random(19)
    people = list(generate_residents(1500, seed=19, today=TODAY))
    write_export(tmp_path / "siak.csv", (p.values() for p in people))
    assert (await import_residents(db, tmp_path / "siak.csv", now=NOW)).rejected == []
    await seed_service_points(db)
    truth = Truth(people)
    async with transaction(db):
        await _plant_links(db, rng, truth)
        await _plant_reactivations(db, rng, truth)
        await _plant_bookings_and_tickets(db, rng, truth)
    await _plant_reminders(db, rng, truth)
    await _plant_drives(db, rng, truth)
    return db, truth


async def _plant_links(db, rng, truth):
    for chat_id, person in enumerate(rng.sample(truth.people, 200), start=5000):
        await chats.set_locale(db, chat_id, "id", now=NOW)
        kind, subject = rng.choice((("nik", person["nik"]), ("household", person["no_kk"])))
        await links.insert_link(db, chat_id, kind, subject, now=NOW)
        on, blocked = rng.random() < 0.8, rng.random() < 0.1
        if not on:
            await db.execute("UPDATE links SET reminders_on = 0 WHERE chat_id = ?", (chat_id,))
        if blocked:
            await outbox_store.block_chat(db, chat_id, now=NOW)
        if on and not blocked:
            (truth.reachable_niks if kind == "nik" else truth.reachable_kks).add(subject)


async def _plant_reactivations(db, rng, truth):
    """Some residents were deactivated in May: SIAK says AKTIF again for some of them."""
    for person in rng.sample(truth.people, 60):
        await db.execute(
            "UPDATE residents SET deactivated_on = '2026-05-01' WHERE nik_ref = ?",
            (vault_of(db).ref(person["nik"]),),
        )
        if person["status_nik"] == "AKTIF":
            truth.reactivated.add(person["nik"])


async def _plant_bookings_and_tickets(db, rng, truth):
    points = [p.code for p in await list_service_points(db)]
    for number, person in enumerate(rng.sample(truth.people, 300), start=1):
        day = date(2026, 10, 15) + timedelta(days=rng.randrange(50))
        point, state = rng.choice(points), rng.choice(BOOKING_STATES)
        await bookings.insert_booking(
            db,
            code=f"C{number:05d}",
            chat_id=700,
            nik=person["nik"],
            service="rekam",
            service_point=point,
            start_at=datetime.combine(day, time(1, 0), tzinfo=UTC),
            day=day,
            queue_number=number,
            state=state,
            now=NOW,
        )
        truth.bookings.append((person["nik"], point, day, state))
    for number, person in enumerate(rng.sample(truth.people, 80), start=1):
        point, steps = rng.choice(points), TICKET_PATH[: rng.randrange(len(TICKET_PATH) + 1)]
        ticket = await tickets.insert_ticket(
            db,
            number=f"KR-{number:05d}",
            chat_id=700,
            nik=person["nik"],
            kind="damaged",
            cause="peeling",
            description=None,
            file_id=None,
            file_type=None,
            service_point=point,
            now=NOW,
        )
        for step in steps:  # the database allows only the next state
            await db.execute("UPDATE tickets SET state = ? WHERE id = ?", (step, ticket.id))
        truth.tickets.append((person["nik"], point, steps[-1] if steps else "reported"))


async def _plant_drives(db, rng, truth):
    """Two drives in the period and one before it: most of their 'recorded' visits are the
    residents' recording dates; some residents' dates say otherwise (SIAK has the last word)."""
    when = (
        (date(2026, 11, 2), "350510"),
        (date(2026, 11, 12), "350503"),
        (date(2026, 9, 3), "3505"),
    )
    for number, (day, kecamatan) in enumerate(when):
        drive = await drives.create_drive(
            db,
            admin=None,
            name=f"Keliling {number}",
            place="Balai desa",
            day=day,
            hours="08:00-12:00",
            capacity=40,
            area=kecamatan if kecamatan != "3505" else "350510",
            service_point="kanigoro",
            now=datetime(2026, 8, 3, 3, 0, tzinfo=UTC),
        )
        async with transaction(db):
            for serial, person in enumerate(rng.sample(truth.people, 30)):
                state = rng.choice(("recorded", "recorded", "recorded", "no_show", "cancelled"))
                await bookings.insert_booking(
                    db,
                    code=f"D{number}{serial:04d}",
                    chat_id=700,
                    nik=person["nik"],
                    service="rekam",
                    service_point=drive.point_code,
                    start_at=datetime.combine(day, time(1, 0), tzinfo=UTC),
                    day=day,
                    queue_number=serial + 1,
                    state=state,
                    now=NOW,
                )
                truth.bookings.append((person["nik"], drive.point_code, day, state))
                if state == "recorded":
                    truth.at_drives.add((person["nik"], day.isoformat()))
                    if rng.random() < 0.8:  # else SIAK keeps another recording date
                        person["tanggal_rekam"] = day.isoformat()
                        await db.execute(
                            "UPDATE residents SET tanggal_rekam = ? WHERE nik_ref = ?",
                            (day.isoformat(), vault_of(db).ref(person["nik"])),
                        )


async def _plant_reminders(db, rng, truth):
    vault = vault_of(db)
    for serial, person in enumerate(rng.sample(truth.people, 150)):
        chat_id = 8000 + serial % 7
        due = date(2026, 10, 1) + timedelta(days=rng.randrange(55))
        ref = vault.ref(person["nik"])
        key = outbox.reminder_key(vault, "teen", ref, chat_id, due)
        plan = outbox.reminder_plan("teen", ref, chat_id, due)
        await outbox.enqueue(
            db, key=key, chat_id=chat_id, kind="reminder", text="x", plan=plan, now=NOW
        )
        async with transaction(db):
            if rng.random() < 0.7:  # the others are still queued: not reminded yet
                message = await outbox_store.get_message_by_key(db, key)
                assert message is not None
                await outbox_store.set_sent(db, [(message.id, 1)], now=NOW)
                truth.reminded.setdefault(person["nik"], []).append(due)


def expected(truth: Truth, *, area: str, point: str | None = None) -> dict[str, object]:
    """The figures of residents whose desa code starts with `area`, and of the bookings and
    tickets at `point` (else of those residents), counted here."""
    people = [p for p in truth.people if _desa(p).startswith(area)]
    niks = {p["nik"] for p in people}

    def reach(p):
        return p["nik"] in truth.reachable_niks or p["no_kk"] in truth.reachable_kks

    def rec(p):
        return p["tanggal_rekam"] != ""

    def wajib(p):
        return _born(p) <= ADULT_BY or p["status_kawin"] != "BELUM KAWIN"

    def teen(p):
        return _born(p).year == 2009

    def recorded_in_period(p):
        return rec(p) and FIRST.isoformat() <= p["tanggal_rekam"] <= LAST.isoformat()

    def at_drive(p):
        return (p["nik"], p["tanggal_rekam"]) in truth.at_drives

    def uw(p):
        return not rec(p) and p["status_nik"] == "AKTIF" and wajib(p)

    def off(p):
        return p["status_nik"] == "NONAKTIF"

    def group(test):
        members = [p for p in people if test(p)]
        return (len(members), sum(map(reach, members)))

    def ours(nik, at):
        return at == point if point else nik in niks

    booked = Counter(
        s for nik, at, day, s in truth.bookings if ours(nik, at) and FIRST <= day <= LAST
    )
    ticket_states = Counter(s for nik, at, s in truth.tickets if ours(nik, at))
    return {
        "residents": len(people),
        "wajib_ktp": sum(map(wajib, people)),
        "unrecorded_wajib": group(uw),
        "turning_17_recorded": group(lambda p: teen(p) and rec(p)),
        "turning_17_unrecorded": group(lambda p: teen(p) and not rec(p)),
        "deactivated": group(off),
        "reactivated": len(niks & truth.reactivated),
        "linked": sum(map(reach, people)),
        "outreach": sum(
            1 for p in people if (uw(p) or (teen(p) and not rec(p)) or off(p)) and not reach(p)
        ),
        "reminded": sum(
            1
            for nik, days in truth.reminded.items()
            if nik in niks and any(FIRST <= d <= LAST for d in days)
        ),
        "recorded": sum(map(recorded_in_period, people)),
        "recorded_at_drives": sum(1 for p in people if recorded_in_period(p) and at_drive(p)),
        "recorded_at_offices": sum(1 for p in people if recorded_in_period(p) and not at_drive(p)),
        "booked": sum(booked.values()),
        "came": sum(booked[s] for s in ("checked_in", "recorded", "handed_over")),
        "no_show": booked["no_show"],
        "bookings": {s: n for s, n in booked.items() if n},
        "tickets": {s: ticket_states[s] for s in TICKET_STATES},
    }


def actual(f: Figures) -> dict[str, object]:
    reach = ("unrecorded_wajib", "turning_17_recorded", "turning_17_unrecorded", "deactivated")
    plain = ("residents", "wajib_ktp", "reactivated", "linked", "outreach", "reminded")
    return {
        **{name: getattr(f, name) for name in plain},
        **{name: (getattr(f, name).total, getattr(f, name).linked) for name in reach},
        "recorded": f.recorded,
        "recorded_at_drives": f.recorded_at_drives,
        "recorded_at_offices": f.recorded_at_offices,
        "booked": f.booked,
        "came": f.came,
        "no_show": f.no_show,
        "bookings": f.bookings,
        "tickets": f.tickets,
    }


async def _figures(db, scope):
    return await figures(db, scope, today=TODAY, first=FIRST, last=LAST)


async def test_the_regency_figures_match_the_planted_truth(town):
    db, truth = town
    got = actual(await _figures(db, await area_scope(db, REGENCY_CODE)))
    assert got == expected(truth, area=REGENCY_CODE)
    assert got["turning_17_unrecorded"][0] > 0
    assert got["reminded"] > 0
    assert got["reactivated"] > 0
    assert got["booked"] > got["came"] > 0
    assert got["recorded"] > got["recorded_at_drives"] > 0


async def test_every_kecamatan_matches_the_planted_truth(town):
    db, truth = town
    for kecamatan in await list_kecamatan(db):
        got = actual(await _figures(db, await area_scope(db, kecamatan.code)))
        assert got == expected(truth, area=kecamatan.code), kecamatan.name


async def test_the_biggest_desa_match_the_planted_truth(town):
    db, truth = town
    biggest = Counter(_desa(p) for p in truth.people).most_common(12)
    for code, _ in biggest:
        got = actual(await _figures(db, await area_scope(db, code)))
        assert got == expected(truth, area=code), code


async def test_every_service_point_matches_the_planted_truth(town):
    db, truth = town
    for point in await list_service_points(db):
        got = actual(await _figures(db, await point_scope(db, point.code)))
        assert got == expected(truth, area=point.kecamatan_code, point=point.code), point.code


async def test_the_breakdown_gives_each_part_the_figures_of_its_own_scope(town):
    # The charts' parts are computed together (the reminders opened once): each must still be
    # what figures() says of that scope alone, and what was planted.
    db, truth = town
    kecamatan = await list_kecamatan(db)
    regency_parts = await breakdown.parts(db, REGENCY_CODE, today=TODAY)
    assert sorted(p.scope.area.code for p in regency_parts) == sorted(k.code for k in kecamatan)
    desa_parts = await breakdown.parts(db, kecamatan[0].code, today=TODAY)
    assert len(desa_parts) > 1
    for part in regency_parts + desa_parts:
        assert part == await figures(db, part.scope, today=TODAY), part.scope.area.code
        assert actual(part) == expected(truth, area=part.scope.area.code), part.scope.area.code
    busy = await breakdown.points(db, today=TODAY)
    assert len(busy) > 1
    for part in busy:
        assert part.scope.point is not None
        code = part.scope.point.code
        assert part == await figures(db, part.scope, today=TODAY), code
        assert actual(part) == expected(truth, area=part.scope.area.code, point=code), code
    alone = [
        await figures(db, await point_scope(db, p), today=TODAY)
        for p in await list_service_points(db)
    ]
    assert {p.scope.point for p in busy} == {f.scope.point for f in alone if f.booked}


async def test_the_share_of_places_used_per_week_against_a_count_made_here(town):
    """A point open Monday to Friday 08:00-10:00 (4 slots of 5 places a day), closed on
    Wednesday 11 November: each of the last four weeks offers 5 places x 4 slots x its open
    weekdays, and uses one place per booking pending, confirmed, checked in, recorded or
    handed over (not cancelled, released, rejected, nor missed)."""
    db, truth = town
    code = "kanigoro"
    async with transaction(db):
        await db.execute(
            "UPDATE service_points SET hours = 'mon-fri 08:00-10:00', slot_capacity = 5"
            " WHERE code = ?",
            (code,),
        )
        await insert_closure(
            db,
            service_point=code,
            first_day=date(2026, 11, 11),
            last_day=date(2026, 11, 11),
            reason="x",
            created_by=None,
            now=NOW,
        )
    point = await get_service_point(db, code)
    weeks = await breakdown.point_weeks(db, point, today=TODAY)
    used_states = {"pending", "confirmed", "checked_in", "recorded", "handed_over"}
    assert [(w.first, w.last) for w in weeks] == [
        (date(2026, 10, 28), date(2026, 11, 3)),
        (date(2026, 11, 4), date(2026, 11, 10)),
        (date(2026, 11, 11), date(2026, 11, 17)),
        (date(2026, 11, 18), date(2026, 11, 24)),
    ]
    for week in weeks:
        days = [week.first + timedelta(days=n) for n in range(7)]
        open_days = [d for d in days if d.weekday() < 5 and d != date(2026, 11, 11)]
        mine = [(day, state) for _, p, day, state in truth.bookings if p == code]
        in_week = [state for day, state in mine if week.first <= day <= week.last]
        used = sum(state in used_states for state in in_week)
        assert week.offered == len(open_days) * 4 * 5
        assert (week.booked, week.no_show, week.used) == (
            len(in_week),
            in_week.count("no_show"),
            used,
        )
        assert week.share == used * 100 / week.offered
    assert sum(w.booked for w in weeks) > 0  # the count is about something
    assert weeks[2].offered == 4 * 4 * 5  # the closed Wednesday offers nothing


# Unmarried, unrecorded residents around the day bounds of TODAY (adult: born by 24 Nov 2009;
# turning 17 this cycle: born in 2009). PostgreSQL counts the other years in SQL and decides
# these boundary years in Python once the date is opened: the counts must agree to the day.
BOUNDARY_BIRTHS = [
    date(2008, 12, 31), date(2009, 1, 1), date(2009, 11, 24), date(2009, 11, 25),
    date(2009, 12, 31), date(2010, 1, 1), date(1990, 5, 5),
]  # fmt: skip


async def test_resident_counts_decide_the_boundary_days(engine_areas, tmp_path):
    db = engine_areas
    people = [
        Person(
            make_nik("350510", born, "P", n + 1), "3505100101080001", f"Warga {n}", born, "P",
            "BELUM KAWIN", "35.05.10.2001", "", "AKTIF",
        )
        for n, born in enumerate(BOUNDARY_BIRTHS)
    ]  # fmt: skip
    csv_path = write_population(tmp_path / "bounds.csv", people)
    assert (await import_residents(db, csv_path, now=NOW)).rejected == []
    counts = await figures_store.resident_counts(
        db, "350510", "350511", ages=ages_on(TODAY), first=FIRST, last=LAST
    )
    wajib = [b for b in BOUNDARY_BIRTHS if b <= ADULT_BY]
    teens = [b for b in BOUNDARY_BIRTHS if b.year == 2009]
    assert counts == figures_store.ResidentCounts(
        residents=len(BOUNDARY_BIRTHS),
        wajib_ktp=len(wajib),
        unrecorded_wajib=len(wajib),
        unrecorded_wajib_reach=0,
        turning_17_recorded=0,
        turning_17_recorded_reach=0,
        turning_17_unrecorded=len(teens),
        turning_17_unrecorded_reach=0,
        deactivated=0,
        deactivated_reach=0,
        reactivated=0,
        outreach=len(set(wajib) | set(teens)),
        recorded=0,
    )
