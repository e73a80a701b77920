"""Issue 15's multi-worker test: three real `dukcapil-bot run` workers on one PostgreSQL
database, driven through the local Bot API server by 50 citizens checking their NIK and
booking a visit at once while a 5,000-message broadcast drains; the worker sending the outbox
is SIGKILLed mid-way and another started.

Afterwards: every update answered, in order, per chat (each citizen's flow reads its answers
one by one), no conversation lost (the flows go on across the kill), no slot over capacity,
every broadcast message delivered, duplicates no more than the sends in flight at the kill,
never more than 30 messages within a second at the server, each job slot run once.
"""

from __future__ import annotations

import asyncio
import csv
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.app import prepare_database
from bot.config import TIMEZONE, Settings
from bot.db import transaction
from bot.jobs.registry import all_jobs
from bot.nik import make_nik
from bot.services import outbox
from bot.services.importer import import_residents
from bot.services.roles import add_user
from bot.storage import job_runs
from bot.storage.chats import ensure_chat
from tests.conftest import HEADER, SECRET_KEY, STAFF_ID, TOKEN
from tests.workers.harness import Workers, busiest_second, received_moments, until

CITIZENS = 50
FIRST_CITIZEN = 8_300_000
RECIPIENTS = 5_000
FIRST_RECIPIENT = 8_400_000
DAYS = 5  # the citizens spread over the first DAYS days offered, 10 a day: one slot's places
TEXT = "<b>Perekaman e-KTP keliling</b> Sabtu di balai desa."
AGAIN = re.compile("query is too old|message is not modified")
REPLY = 60.0  # seconds a citizen waits for an answer (a dead worker's chats: 8 s)


def resident(n: int) -> list[str]:
    born = date(1990 + n % 10, 1 + n % 12, 1 + n % 28)
    nik = make_nik("350510", born, "L", 100 + n)
    kk = f"35051001019{n:05d}"
    return [
        nik,
        kk,
        f"WARGA {n}",
        born.isoformat(),
        "L",
        "BELUM KAWIN",
        "35.05.10.2001",
        "",
        "AKTIF",
    ]


async def prepare(url: str, folder: Path) -> list[list[str]]:
    """The residents, the staff member, the broadcast, and every job slot run yesterday."""
    settings = Settings.from_env(
        {
            "BOT_TOKEN": TOKEN,
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_PATH": str(folder / "unused.sqlite3"),
        }
    )
    people = [resident(n) for n in range(CITIZENS)]
    path = folder / "siak.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER.split(","))
        writer.writerows(people)
    now = datetime.now(UTC)
    conn = await prepare_database(settings)
    try:
        assert (await import_residents(conn, path, now=now)).rejected == []
        await add_user(conn, STAFF_ID, "staff", service_point="kanigoro", area=None, now=now)
        chats = range(FIRST_RECIPIENT, FIRST_RECIPIENT + RECIPIENTS)
        yesterday = now.astimezone(TIMEZONE).date() - timedelta(days=1)
        async with transaction(conn):
            for chat_id in [*chats, STAFF_ID]:
                await ensure_chat(conn, chat_id, locale="id", now=now)
            for spec in all_jobs():
                for at in spec.times:
                    await job_runs.record(conn, spec.slot(at), yesterday, planned=0, now=now)
        planned = [outbox.Planned(f"broadcast:9:{c}", c, "broadcast", TEXT) for c in chats]
        assert await outbox.enqueue_many(conn, planned, now=now, quiet=None) == RECIPIENTS
    finally:
        await conn.close()
    return people


class Citizen:
    """One simulated citizen: reads the bot's answers in order, counting repeats."""

    def __init__(self, user, number: int, person: list[str]) -> None:
        self.user, self.number, self.person = user, number, person
        self.last: tuple | None = None
        self.repeats = 0

    async def answer(self):
        """The next answer that is not the previous one given again (an update the killed
        worker had in hand, handled again: the same step, its figures perhaps moved on)."""
        while True:
            message = await self.user.next_message(timeout=REPLY)
            seen = (
                message.method,
                (message.text or "")[:40],
                frozenset(d.rpartition(":")[0] for _, d in message.buttons if d),
            )
            if seen != self.last:
                self.last = seen
                return message
            self.repeats += 1

    def press(self, message, prefix: str, index: int = 0) -> None:
        data = [d for _, d in message.buttons if d and d.startswith(prefix)]
        assert data, f"citizen {self.number}: no {prefix} button in {message.text!r}"
        self.user.press(message, data[index % len(data)])

    async def check_and_book(self) -> str:
        """/cek, then /antre to the end; return the booking's code."""
        nik, kk = self.person[0], self.person[1]
        self.user.send_text(f"/cek {nik} {kk}")
        assert "belum rekam" in (await self.answer()).text.lower()
        self.user.send_text("/antre")
        self.press(await self.answer(), "bk:svc:rekam")
        self.press(await self.answer(), "bk:who:0")
        self.press(await self.answer(), "bk:pt:kanigoro")
        self.press(await self.answer(), "bk:day:", self.number % DAYS)
        self.press(await self.answer(), "bk:slot:")
        self.press(await self.answer(), "bk:ok")
        confirmation = await self.answer()
        assert "Antrean Anda tercatat" in confirmation.text, confirmation.text
        assert (await self.answer()).method == "sendPhoto"
        assert (await self.answer()).method == "sendVenue"
        return re.findall(r"<code>(\w+)</code>", confirmation.html)[0]


async def query(url: str, sql: str, *args) -> list[tuple]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(sql, args)
        return await cursor.fetchall()


@pytest.mark.timeout(600)
async def test_three_workers_under_load_with_one_killed(botapi, pg_migrated_url, tmp_path):
    url = pg_migrated_url
    people = await prepare(url, tmp_path)
    for chat_id in range(FIRST_RECIPIENT, FIRST_RECIPIENT + RECIPIENTS):
        botapi.user(chat_id)
    botapi.user(STAFF_ID)
    citizens = [
        Citizen(botapi.user(FIRST_CITIZEN + n), n, person) for n, person in enumerate(people)
    ]
    workers = Workers(botapi.base_url, url, tmp_path, env={"SEND_RATE": "30"})
    for _ in range(3):
        await workers.start()

    def sent_to_citizens() -> int:
        return sum(len(c.user.inbox) for c in citizens)

    async def midway() -> bool:
        return sent_to_citizens() >= CITIZENS * 4

    async def drained() -> bool:
        rows = await query(url, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')")
        return rows[0][0] == 0

    try:
        flows = asyncio.gather(*(c.check_and_book() for c in citizens))
        await until(midway, within=120, what="the citizens half-way", workers=workers)
        sender = next(n for n in workers.running if "sends the outbox" in workers.log_of(n))
        pid = workers.running[sender].pid
        await workers.kill(sender)
        sending = await query(url, "SELECT count(*) FROM outbox WHERE state = 'sending'")
        held = await query(url, "SELECT count(*) FROM inbox WHERE claimed_by LIKE %s", f"%:{pid}")
        in_flight = sending[0][0] + held[0][0]
        fresh = await workers.start()
        codes = await asyncio.wait_for(flows, 300)
        # looked at once a second: this process's server times the messages it receives
        await until(drained, within=400, what="the broadcast to drain", workers=workers, every=1)
        await workers.ready(fresh)
    finally:
        exits = await workers.stop_all()

    assert exits == [0, 0, 0]
    assert len(set(codes)) == CITIZENS
    # no slot over capacity
    over = await query(
        url,
        "SELECT b.start_at, count(*), min(p.slot_capacity) FROM bookings b"
        " JOIN service_points p ON p.code = b.service_point"
        " WHERE b.state IN ('pending', 'confirmed') GROUP BY b.service_point, b.start_at"
        " HAVING count(*) > min(p.slot_capacity)",
    )
    assert over == []
    # every broadcast message delivered; a copy twice only for a send in flight at the kill
    copies = Counter({c: n for c, n in botapi.send_counts().items() if c >= FIRST_RECIPIENT})
    assert len(copies) == RECIPIENTS
    states = await query(url, "SELECT state, count(*) FROM outbox GROUP BY state")
    assert dict(states).get("sent") >= RECIPIENTS
    assert set(dict(states)) <= {"sent"}
    # an update handled again after the kill finds its button answered and its keyboard
    # removed already: Telegram says so, the bot goes on (those are the server's only refusals)
    again = [e for e in botapi.errors if AGAIN.search(e.description)]
    assert again == botapi.errors
    botapi.sim.errors.clear()
    repeats = sum(n - 1 for n in copies.values()) + sum(c.repeats for c in citizens)
    assert repeats + len(again) <= 2 * in_flight  # an answer and a keyboard each at most
    assert busiest_second(received_moments(botapi)) <= 30
    # each job slot once: at most one worker planned it (the catch-up of all four)
    runs = Counter(
        slot for n in (1, 2, 3, 4) for slot in re.findall(r"job (\S+) planned", workers.log_of(n))
    )
    assert all(count == 1 for count in runs.values()), runs
    today = datetime.now(UTC).astimezone(TIMEZONE).date().isoformat()
    ran = await query(url, "SELECT job, count(*) FROM job_runs WHERE day = %s GROUP BY job", today)
    assert {job for job, _ in ran} == set(runs)
