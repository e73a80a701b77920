"""Who may do what, tried exhaustively end to end: every role command (the keys of
ROLE_COMMANDS, so a new command fails this file until it is added here) and every role-only
button, by everyone who may not: a citizen, staff of another service point, an official of
another area, and each role the table does not allow. Every attempt is refused (or, for a
reading command of the actor's own scope, shows nothing of the target), changes nothing in the
database row it aimed at, and is in the audit log with the actor's id. The allowed role at the
right point or area then succeeds once per action, so the refusals are not vacuous.

One bot and one database serve the whole module (a bot per case would take a minute); every
case makes its own target and its own actor (a fresh Telegram id), so the cases do not meet.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from telegram.ext import BaseHandler, CallbackQueryHandler, ConversationHandler

from bot.app import prepare_database
from bot.clock import FixedClock
from bot.config import Settings
from bot.db import transaction
from bot.domain import Booking, Drive, RoleUser, Ticket
from bot.places import Place
from bot.services import booking as booking_service
from bot.services import deactivation, drives, elsewhere, frontdesk, links, tickets
from bot.services.directory import note_chat
from bot.services.importer import import_residents
from bot.services.roles import ROLE_COMMANDS, add_user
from bot.services.schedule import slot_starts
from bot.storage import point_settings
from bot.storage.areas import plain_code as plain
from bot.storage.residents import get_resident
from botapi import BotApiServer
from botapi.server import FAKE_JPEG, BotMessage, SimChat, SimUser
from tests.conftest import (
    NOW,
    PEOPLE,
    SECRET_KEY,
    STAFF_ID,
    TOKEN,
    Person,
    _person,
    serve,
    write_population,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TODAY = date(2026, 11, 24)  # Tuesday, 10:00 WIB
TOMORROW = TODAY + timedelta(days=1)
CLOSED_DAY = TODAY + timedelta(days=7)  # the day /tutup closes: no other case books it
DRIVE_DAY = TODAY + timedelta(days=9)  # Thursday 3 December: the drives of /keliling's cases
LATER_TODAY = [s for s in slot_starts(TODAY) if s > NOW][-1]
HOME_POINT, OTHER_POINT = "kanigoro", "tla-wlingi"
HOME_AREA, OTHER_AREA = "35.05.10", "35.05.03"  # Kanigoro, Srengat
SIDE_POINT = "kec-srengat"  # admin settings are tried on it: no case books there
LINKED_CHAT = 5501  # linked to a Kanigoro resident: the broadcast audience of the home area
RUDI = PEOPLE["unrecorded"]  # the one the deactivation would switch off

REFUSED = "hanya untuk petugas"
WRONG_POINT = "tempat layanan Anda sendiri"
STALE = "tidak berlaku"

# Residents to book for and report for: one person can hold one booking and one open ticket.
EXTRA = [
    _person(
        f"Warga Uji {n}",
        date(1990, 1, 1) + timedelta(days=n),
        "L",
        kk=f"3505100202{n:06d}",
        serial=300 + n,
        rekam="2015-01-01",
    )
    for n in range(1, 401)
]
# Residents to book a recording for: not yet recorded and 16, so not wajib KTP (and not
# deactivated) before the cycle ending 30 April 2027, but old enough to record.
TEENS = [
    _person(
        f"Remaja Uji {n}",
        date(2010, 1, 1) + timedelta(days=n % 300),
        "P",
        kk=f"3505100303{n:06d}",
        serial=300 + n,
    )
    for n in range(1, 401)
]

ROLE_OF = {
    "citizen": None,
    "staff": "staff",
    "staff_other_point": "staff",
    "official": "official",
    "official_other_area": "official",
    "admin": "admin",
}
OTHER_SCOPE = {"staff": "staff_other_point", "official": "official_other_area"}


# --- the world: one running bot, fresh actors and targets ---


@dataclass
class World:
    app: Any
    botapi: BotApiServer
    run_id: int
    clock: FixedClock
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(40_000))
    residents: Iterator[Person] = field(default_factory=lambda: iter(EXTRA))
    teens: Iterator[Person] = field(default_factory=lambda: iter(TEENS))

    @property
    def db(self) -> Any:
        return self.app.bot_data["db"]

    async def actor(self, kind: str) -> SimUser:
        """A fresh account of this kind, with a chat open with the bot."""
        telegram_id = next(self.ids)
        role = ROLE_OF[kind]
        if role is not None:
            point = HOME_POINT if kind == "staff" else OTHER_POINT
            area = HOME_AREA if kind == "official" else OTHER_AREA
            await add_user(
                self.db,
                telegram_id,
                role,
                service_point=point if role == "staff" else None,
                area=area if role == "official" else None,
                now=NOW,
            )
        return self.botapi.user(telegram_id)

    async def booking(
        self, start: datetime = LATER_TODAY, *, checked_in: bool = False, point: str = HOME_POINT
    ) -> Booking:
        """A pending booking (at the home point) for a fresh resident and chat."""
        chat = self.botapi.user(next(self.ids))
        made = await booking_service.book(
            self.db,
            chat_id=chat.id,
            nik=next(self.teens).nik,
            service="rekam",
            point_code=point,
            start_at=start,
            now=NOW,
        )
        if checked_in:
            desk = RoleUser(STAFF_ID, "staff", point, None)
            return await frontdesk.check_in(self.db, made.code, staff=desk, now=NOW)
        return made

    async def ticket(self, state: str = "reported", *, point: str = HOME_POINT) -> Ticket:
        """A damaged-card ticket (at the home point), moved on to `state`."""
        chat = self.botapi.user(next(self.ids))
        photo = self.botapi.sim.register_file(FAKE_JPEG, "photos", ".jpg", "image/jpeg")
        ticket = await tickets.report(
            self.db,
            chat_id=chat.id,
            nik=next(self.residents).nik,
            kind="damaged",
            cause="peeling",
            description=None,
            point_code=point,
            now=NOW,
            attachment=tickets.Attachment(photo.file_id, "photo", "image/jpeg", len(FAKE_JPEG)),
        )
        steps = [tickets.verify, tickets.mark_printed, tickets.mark_ready, tickets.hand_over]
        order = ["reported", "verified", "printed", "ready", "handed_over"]
        for step in steps[: order.index(state)]:
            desk = RoleUser(STAFF_ID, "staff", point, None)
            ticket = await step(self.db, ticket.id, staff=desk, now=NOW)
        return ticket

    async def value(self, sql: str, *args: Any) -> Any:
        async with self.db.execute(sql, args) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def audit_after(self, mark: int) -> list[tuple[int | None, str, str]]:
        async with self.db.execute(
            "SELECT actor_id, action, detail FROM audit_log WHERE id > ? ORDER BY id", (mark,)
        ) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def own_message(self, user: SimUser) -> BotMessage:
        """A message of the bot in the user's chat, to press forged buttons on."""
        user.send_text("/bantuan")
        return await user.next_message()


@pytest_asyncio.fixture(name="world", scope="module", loop_scope="module")
async def world_fixture(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("authz")
    async with BotApiServer(token=TOKEN) as server:
        settings = Settings.from_env(
            {
                "BOT_TOKEN": TOKEN,
                "BOT_API_URL": server.base_url,
                "SECRET_KEY": SECRET_KEY,
                "DATABASE_PATH": str(tmp / "bot.sqlite3"),
                "SEND_RATE": "0",
            }
        )
        conn = await prepare_database(settings)
        people = [*PEOPLE.values(), *EXTRA, *TEENS]
        report = await import_residents(conn, write_population(tmp / "siak.csv", people), now=NOW)
        assert report.rejected == []
        async with transaction(conn):
            await conn.execute(
                "UPDATE service_points SET slot_capacity = 10000 WHERE code = ?", (HOME_POINT,)
            )
        run = await deactivation.prepare_preview(conn, day=TODAY, now=NOW)
        budi = await get_resident(conn, PEOPLE["recorded"].nik)
        assert budi is not None
        assert run.total == 1
        await links.link_chat(conn, LINKED_CHAT, budi, household=False, now=NOW)
        # The home point's staff have opened the bot, so its bookings wait for them ("pending").
        await add_user(conn, STAFF_ID, "staff", service_point=HOME_POINT, area=None, now=NOW)
        await note_chat(conn, STAFF_ID, locale="id", now=NOW)
        await conn.close()
        server.user(LINKED_CHAT)
        server.user(STAFF_ID)
        clock = FixedClock(NOW)
        async with serve(settings, clock) as app:
            yield World(app, server, run.id, clock)
        assert server.errors == [], f"the bot made invalid Bot API calls: {server.errors}"


# --- the actions ---

Setup = Callable[[World], Awaitable[Any]]
Attempt = Callable[[World, SimUser, Any], Awaitable[SimChat]]
State = Callable[[World, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Action:
    """One command or button. `other_scope` says what staff of another point / an official of
    another area meet: ("refused", audited action) — the service refuses and audits it — or
    ("hidden", None) — a reading command of their own scope that must not show the target."""

    name: str
    guard: str  # the ROLE_COMMANDS row that decides
    setup: Setup
    attempt: Attempt  # returns the chat the answer arrives in
    state: State  # what must not change when refused
    marker: Callable[[Any], str] = lambda _: ""  # what a refused actor must not see
    other_scope: tuple[str, str | None] = ("hidden", None)
    allowed: Callable[[Any, Any, Any, BotMessage], bool] = lambda t, before, after, _: (
        before != after
    )
    follow: Callable[[World, SimUser, Any, BotMessage], Awaitable[BotMessage]] | None = None
    collect: Callable[[SimChat, BotMessage], Awaitable[str]] | None = None  # multi-message
    data: str = ""  # the callback data (for the check that every role button is covered)


async def nothing(_: World) -> None:
    return None


async def the_world(w: World) -> World:
    return w


def command(text: str) -> Attempt:
    async def send(w: World, user: SimUser, target: Any) -> SimChat:
        user.send_text(text.format(t=target))
        return user

    return send


def press(data: str) -> Attempt:
    async def forged(w: World, user: SimUser, target: Any) -> SimChat:
        user.press(await w.own_message(user), data.format(t=target), raw=True)
        return user

    return forged


async def booking_state(w: World, b: Booking) -> Any:
    return await w.value("SELECT state FROM bookings WHERE id = ?", b.id)


async def ticket_state(w: World, t: Ticket) -> Any:
    return await w.value("SELECT state FROM tickets WHERE id = ?", t.id)


async def run_state(w: World, _: Any) -> Any:
    run = await w.value("SELECT state FROM deactivation_runs WHERE id = ?", w.run_id)
    return run, await w.value(
        "SELECT status_nik FROM residents WHERE nik_ref = ref_of(?)", RUDI.nik
    )


async def home_broadcasts(w: World, _: Any) -> Any:
    return await w.value("SELECT count(*) FROM broadcasts WHERE area_code = ?", plain(HOME_AREA))


async def role_holder(w: World) -> int:
    """A fresh staff account, the target of /cabut."""
    return (await w.actor("staff")).id


async def role_state(w: World, telegram_id: int) -> Any:
    return await w.value("SELECT role FROM users WHERE telegram_id = ?", telegram_id)


async def batches(w: World, _: Any) -> Any:
    return await w.value("SELECT count(*) FROM destruction_batches")


async def reads(w: World, _: Any) -> None:
    return None


def says(phrase: str) -> Callable[[Any, Any, Any, BotMessage], bool]:
    return lambda t, before, after, answer: phrase in (answer.text or "")


def shows(t: Any, before: Any, after: Any, answer: BotMessage) -> bool:
    """A reading command: the target is listed (in the collected text), nothing changed."""
    return before == after and (t.code if isinstance(t, Booking) else t.number) in answer.text


def sent(method: str) -> Callable[[Any, Any, Any, BotMessage], bool]:
    return lambda t, before, after, answer: answer.method == method


async def queue_pages(chat: SimChat, first: BotMessage) -> str:
    """Every page of /hari_ini (the last one has the confirm-tomorrow button)."""
    pages = [first]
    while not any(d == "st:all" for _, d in pages[-1].buttons):
        pages.append(await chat.next_message())
    return "\n".join(p.text or "" for p in pages)


async def ticket_list(chat: SimChat, first: BotMessage) -> str:
    """The /tiket count line and one message per open ticket."""
    count = int((first.text or "").rpartition(":")[2])
    return "\n".join([first.text or ""] + [(await chat.next_message()).text for _ in range(count)])


async def document_name(chat: SimChat, document: BotMessage) -> str:
    """The file name of a document (an outreach list's names its area)."""
    return str(document.message["document"]["file_name"])


async def with_reason(w: World, user: SimUser, target: Any, asked: BotMessage) -> BotMessage:
    assert "alasan" in (asked.text or "")
    user.send_text("Berkas tidak lengkap")
    return await user.next_message()


async def tutup(w: World, user: SimUser, b: Booking) -> SimChat:
    day = CLOSED_DAY.isoformat()
    user.send_text(f"/tutup {HOME_POINT} {day} {day} renovasi")
    return user


async def closure_state(w: World, b: Booking) -> Any:
    closures = await w.value("SELECT count(*) FROM closures WHERE service_point = ?", HOME_POINT)
    return await booking_state(w, b), closures


async def auto_confirm_state(w: World, _: Any) -> Any:
    return await point_settings.get_auto_confirm(w.db, SIDE_POINT)


async def staff_chat_state(w: World, _: Any) -> Any:
    return await point_settings.get_staff_chat(w.db, SIDE_POINT)


async def in_a_group(w: World, user: SimUser, _: Any) -> SimChat:
    group = w.botapi.group(-next(w.ids), "Petugas Srengat")
    user.send_text(f"/grup_petugas {SIDE_POINT}", chat=group)
    return group


def siaran_until(last: str) -> Callable[..., Awaitable[BotMessage]]:
    """The allowed official's whole flow up to the button `last`."""

    async def flow(w: World, user: SimUser, _: Any, first: BotMessage) -> BotMessage:
        user.send_text("/siaran")
        start = await user.next_message()
        user.press(start, "sr:t:invitation")
        answer = await user.next_message()
        if last == "sr:t:invitation":
            return answer
        user.press(answer, "sr:a:linked")
        await user.next_message()  # the preview, exactly what recipients read
        confirm = await user.next_message()
        if last == "sr:a:linked":
            return confirm
        user.press(confirm, last)
        return await user.next_message()

    return flow


async def a_drive(w: World) -> Drive:
    """A planned drive in Srengat (no case books it), the target of /keliling's buttons."""
    return await drives.create_drive(
        w.db,
        admin=None,
        name="Perekaman keliling SMAN 1 Srengat",
        place="Aula SMAN 1 Srengat",
        day=DRIVE_DAY,
        hours="08:00-12:00",
        capacity=5,
        area=OTHER_AREA,
        service_point="tla-srengat",
        now=NOW,
    )


async def home_drive(w: World) -> Drive:
    """A drive tomorrow for the home area, run by the home point's staff."""
    return await drives.create_drive(
        w.db,
        admin=None,
        name="Perekaman keliling Uji",
        place="Balai Desa Uji",
        day=TOMORROW,
        hours="08:00-12:00",
        capacity=100,
        area=HOME_AREA,
        service_point=HOME_POINT,
        now=NOW,
    )


async def drive_state(w: World, d: Drive) -> Any:
    return await w.value(
        "SELECT d.state || ' ' || sp.open_day || ' ' || sp.hours || ' ' || sp.slot_capacity"
        " FROM drives d JOIN service_points sp ON sp.code = d.point_code WHERE d.id = ?",
        d.id,
    )


async def drives_made(w: World, _: Any) -> Any:
    return await w.value("SELECT count(*) FROM drives")


async def said(user: SimUser, text: str) -> BotMessage:
    user.send_text(text)
    return await user.next_message()


def keliling_until(last: str) -> Callable[..., Awaitable[BotMessage]]:
    """The allowed admin's real /keliling flow up to the button `last`: a new drive's steps
    (kl:skip, kl:ok, kl:no), or a change (kl:f, kl:save) or cancellation (kl:drop) of `d`."""

    async def flow(w: World, user: SimUser, d: Drive | None, first: BotMessage) -> BotMessage:
        listing = await said(user, f"/keliling {d.code}" if d else "/keliling")
        if last in ("kl:f:capacity", "kl:save"):
            user.press(listing, f"kl:chg:{d.code}")
            menu = await user.next_message()
            user.press(menu, "kl:f:capacity")
            asked = await user.next_message()
            return asked if last == "kl:f:capacity" else await _press(user, await said(user, "7"))
        if last == "kl:drop":
            user.press(listing, f"kl:del:{d.code}")
            return await _press(user, await user.next_message(), last)
        user.press(listing, "kl:new")
        await user.next_message()
        for typed in ("Keliling Uji", "Balai Desa", "03-12-2026", "08:00-10:00", "4", OTHER_AREA):
            await said(user, typed)
        location = await said(user, "tla-srengat")
        summary = await _press(user, location, "kl:skip")
        return summary if last == "kl:skip" else await _press(user, summary, last)

    return flow


async def _press(user: SimUser, message: BotMessage, data: str = "kl:save") -> BotMessage:
    user.press(message, data)
    return await user.next_message()


async def drive_booking(w: World) -> Booking:
    """A booking at a fresh drive of the home point (see `home_drive`)."""
    drive = await home_drive(w)
    chat = w.botapi.user(next(w.ids))
    start = slot_starts(TOMORROW)[0]
    return await drives.book_at_drive(
        w.db, drive.code, chat_id=chat.id, nik=next(w.teens).nik, start_at=start, now=NOW
    )


async def drive_code(w: World, b: Booking) -> str:
    drive = await drives.get_drive_by_point(w.db, b.service_point)
    assert drive is not None
    return drive.code


async def drive_list(w: World, user: SimUser, b: Booking) -> SimChat:
    user.send_text(f"/daftar_keliling {await drive_code(w, b)}")
    return user


async def drive_csv(w: World, user: SimUser, b: Booking) -> SimChat:
    user.press(await w.own_message(user), f"dv:csv:{await drive_code(w, b)}", raw=True)
    return user


async def siaran_drive(w: World, user: SimUser, drive: Drive, first: BotMessage) -> BotMessage:
    """The allowed official picks the drive for a "perekaman keliling" invitation."""
    user.send_text("/siaran")
    user.press(await user.next_message(), "sr:t:mobile")
    picker = await user.next_message()
    # The shared world plans a drive for every action tried, and the picker shows the
    # DRIVE_CHOICES nearest: a later drive may be past them, its press is checked all the same.
    data = f"sr:d:{drive.code}"
    user.press(picker, data, raw=data not in [d for _, d in picker.buttons])
    return await user.next_message()


def tomorrow(w: World) -> Awaitable[Booking]:
    return w.booking(slot_starts(TOMORROW)[0])


def on_closed_day(w: World) -> Awaitable[Booking]:
    return w.booking(slot_starts(CLOSED_DAY)[0])


def checked_in(w: World) -> Awaitable[Booking]:
    return w.booking(checked_in=True)


def ticket_in(state: str) -> Setup:
    return lambda w: w.ticket(state)


def refused_by(action: str) -> tuple[str, str]:
    return ("refused", action)


def code(b: Booking) -> str:
    return b.code


def number(t: Ticket) -> str:
    return t.number


ACTIONS: list[Action] = [
    # staff commands
    Action("cmd:hari_ini", "hari_ini", World.booking, command("/hari_ini"), booking_state,
           marker=code, allowed=shows, collect=queue_pages),
    Action("cmd:masuk", "masuk", World.booking, command("/masuk {t.code}"), booking_state,
           other_scope=refused_by("staffdesk:check_in:refused")),
    Action("cmd:tidak_hadir", "tidak_hadir", World.booking, command("/tidak_hadir {t.code}"),
           booking_state, other_scope=refused_by("staffdesk:outcome:refused")),
    Action("cmd:konfirmasi_besok", "konfirmasi_besok", tomorrow, command("/konfirmasi_besok"),
           booking_state, marker=code),
    Action("cmd:tiket", "tiket", ticket_in("reported"), command("/tiket"), ticket_state,
           marker=number, allowed=shows, collect=ticket_list),
    Action("cmd:daftar_keliling", "daftar_keliling", drive_booking, drive_list, booking_state,
           marker=code, allowed=shows, other_scope=refused_by("staffdesk:drive_list:refused")),
    # staff buttons
    Action("st:ok", "hari_ini", World.booking, press("st:ok:{t.id}"), booking_state,
           other_scope=refused_by("staffdesk:confirm:refused"), data="st:ok:1"),
    Action("st:no", "hari_ini", World.booking, press("st:no:{t.id}"), booking_state,
           other_scope=refused_by("staffdesk:reject:refused"), follow=with_reason,
           data="st:no:1"),
    Action("st:all", "konfirmasi_besok", tomorrow, press("st:all"), booking_state,
           marker=code, data="st:all"),
    Action("st:out", "masuk", checked_in, press("st:out:recorded:{t.id}"), booking_state,
           other_scope=refused_by("staffdesk:outcome:refused"), data="st:out:recorded:1"),
    Action("dv:csv", "daftar_keliling", drive_booking, drive_csv, booking_state,
           other_scope=refused_by("staffdesk:drive_list:refused"), allowed=sent("sendDocument"),
           data="dv:csv:ABCDEF"),
    Action("tks:v", "tiket", ticket_in("reported"), press("tks:v:{t.id}"), ticket_state,
           other_scope=refused_by("tickets:verified:refused"), data="tks:v:1"),
    Action("tks:p", "tiket", ticket_in("verified"), press("tks:p:{t.id}"), ticket_state,
           other_scope=refused_by("tickets:printed:refused"), data="tks:p:1"),
    Action("tks:r", "tiket", ticket_in("printed"), press("tks:r:{t.id}"), ticket_state,
           other_scope=refused_by("tickets:ready:refused"), data="tks:r:1"),
    Action("tks:h", "tiket", ticket_in("ready"), press("tks:h:{t.id}"), ticket_state,
           other_scope=refused_by("tickets:handed_over:refused"), data="tks:h:1"),
    Action("tks:f", "tiket", ticket_in("reported"), press("tks:f:{t.id}"), ticket_state,
           other_scope=refused_by("tickets:file:refused"), allowed=sent("sendPhoto"),
           data="tks:f:1"),
    Action("tks:x", "tiket", ticket_in("reported"), press("tks:x:{t.id}"), ticket_state,
           other_scope=refused_by("tickets:rejected:refused"), follow=with_reason,
           data="tks:x:1"),
    # official and admin commands
    Action("cmd:rekap", "rekap", nothing, command("/rekap"), reads,
           marker=lambda _: "Rekap Kanigoro", allowed=says("Rekap Kanigoro")),
    Action("cmd:siaran", "siaran", nothing, command("/siaran"), home_broadcasts,
           marker=lambda _: "Kanigoro", allowed=says("Siaran ke warga Kanigoro")),
    Action("cmd:statistik", "statistik", nothing, command("/statistik"), reads,
           allowed=says("Statistik Kabupaten Blitar")),
    Action("stat:kec", "statistik", nothing, press("stat:kec:350510"), reads,
           allowed=says("Statistik Kecamatan Kanigoro"), data="stat:kec:350510"),
    Action("rekap:pdf", "rekap", nothing, press("rekap:pdf"), reads,
           marker=lambda _: "350510", collect=document_name, allowed=sent("sendDocument"),
           data="rekap:pdf"),
    Action("cmd:tutup", "tutup", on_closed_day, tutup, closure_state),
    Action("cmd:autokonfirmasi", "autokonfirmasi", nothing,
           command(f"/autokonfirmasi {SIDE_POINT} on"), auto_confirm_state),
    Action("cmd:grup_petugas", "grup_petugas", nothing, in_a_group, staff_chat_state),
    Action("cmd:konfirmasi", "konfirmasi", World.booking, command("/konfirmasi {t.code}"),
           booking_state),
    Action("esc:ok", "konfirmasi", World.booking, press("esc:ok:{t.id}"), booking_state,
           data="esc:ok:1"),
    Action("cmd:musnah", "musnah", ticket_in("handed_over"),
           command("/musnah 2026-11-24 | dibakar | Ani, Budi"), batches),
    Action("cmd:daftar_musnah", "daftar_musnah", nothing, command("/daftar_musnah"), reads,
           allowed=says("Register pemusnahan")),
    Action("cmd:cabut", "cabut", role_holder, command("/cabut {t}"), role_state),
    # broadcast buttons: forged presses with no /siaran in progress; allowed: the real flow
    Action("sr:t", "siaran", nothing, press("sr:t:invitation"), home_broadcasts,
           follow=siaran_until("sr:t:invitation"), allowed=says("Kirim ke siapa di Kanigoro"),
           data="sr:t:invitation"),
    Action("sr:d", "siaran", home_drive, press("sr:d:{t.code}"), home_broadcasts,
           follow=siaran_drive, allowed=says("Kirim ke siapa di Kanigoro"), data="sr:d:ABCDEF"),
    Action("sr:a", "siaran", nothing, press("sr:a:linked"), home_broadcasts,
           follow=siaran_until("sr:a:linked"), allowed=says("Penerima: 1 chat"),
           data="sr:a:linked"),
    Action("sr:ok", "siaran", nothing, press("sr:ok"), home_broadcasts,
           follow=siaran_until("sr:ok"), data="sr:ok"),
    Action("sr:no", "siaran", nothing, press("sr:no"), home_broadcasts,
           follow=siaran_until("sr:no"), allowed=says("dibatalkan"), data="sr:no"),
    # the annual deactivation (the approval last: it applies the run)
    Action("cmd:deaktivasi", "deaktivasi", nothing, command("/deaktivasi"), run_state,
           allowed=says("Pratinjau penonaktifan")),
    Action("dz:ask", "deaktivasi", the_world, press("dz:ask:{t.run_id}"), run_state,
           allowed=says("Saat ini 1 NIK"), data="dz:ask:1"),
    Action("dz:no", "deaktivasi", the_world, press("dz:no:{t.run_id}"), run_state,
           allowed=says("Tidak jadi"), data="dz:no:1"),
    # mobile recording drives: the entry buttons of the list, then the steps' buttons pressed
    # with no /keliling in progress (allowed: the real flow)
    Action("cmd:keliling", "keliling", nothing, command("/keliling"), drives_made,
           allowed=says("Perekaman keliling")),
    Action("kl:new", "keliling", nothing, press("kl:new"), drives_made,
           allowed=says("Apa namanya"), data="kl:new"),
    Action("kl:chg", "keliling", a_drive, press("kl:chg:{t.code}"), drive_state,
           allowed=says("Apa yang diubah"), data="kl:chg:K7PX2M"),
    Action("kl:del", "keliling", a_drive, press("kl:del:{t.code}"), drive_state,
           allowed=says("Batalkan"), data="kl:del:K7PX2M"),
    Action("kl:f", "keliling", a_drive, press("kl:f:capacity"), drive_state,
           follow=keliling_until("kl:f:capacity"), allowed=says("Berapa orang"),
           data="kl:f:capacity"),
    Action("kl:save", "keliling", a_drive, press("kl:save"), drive_state,
           follow=keliling_until("kl:save"), data="kl:save"),
    Action("kl:drop", "keliling", a_drive, press("kl:drop"), drive_state,
           follow=keliling_until("kl:drop"), data="kl:drop"),
    Action("kl:skip", "keliling", nothing, press("kl:skip"), drives_made,
           follow=keliling_until("kl:skip"), allowed=says("Buat perekaman keliling ini"),
           data="kl:skip"),
    Action("kl:ok", "keliling", nothing, press("kl:ok"), drives_made,
           follow=keliling_until("kl:ok"), data="kl:ok"),
    Action("kl:no", "keliling", nothing, press("kl:no"), drives_made,
           follow=keliling_until("kl:no"), allowed=says("dibatalkan"), data="kl:no"),
    Action("dz:csv", "deaktivasi", the_world, press("dz:csv:{t.run_id}"), run_state,
           allowed=sent("sendDocument"), data="dz:csv:1"),
    Action("dz:ok", "deaktivasi", the_world, press("dz:ok:{t.run_id}"), run_state,
           data="dz:ok:1"),
]  # fmt: skip
BY_NAME = {action.name: action for action in ACTIONS}


def refusers(action: Action) -> list[str]:
    """Everyone the table does not allow, plus the allowed roles' other point / area."""
    roles = ROLE_COMMANDS[action.guard]
    kinds = [kind for kind, role in ROLE_OF.items() if role not in roles]
    return kinds + [OTHER_SCOPE[role] for role in sorted(roles) if role in OTHER_SCOPE]


def allowed_actor(action: Action) -> str:
    """The role at the right point or area: home staff, the home official, else the admin."""
    roles = ROLE_COMMANDS[action.guard]
    return next(kind for kind in ("staff", "official", "admin") if kind in roles)


CASES = [(action.name, kind) for action in ACTIONS for kind in refusers(action)]


# --- the tests ---


async def test_every_role_command_is_tried():
    assert sorted({a.guard for a in ACTIONS if a.name.startswith("cmd:")}) == sorted(ROLE_COMMANDS)


async def test_every_role_button_is_tried(world: World):
    """Every button pattern registered by the role modules matches a button tried here."""
    role_modules = ("staff", "drive_desk", "tickets_staff", "broadcast", "deactivation", "admin")
    role_modules += ("drives_admin", "area_reports")
    patterns = {
        handler.pattern.pattern
        for handler in _callback_handlers(world.app)
        if handler.callback.__module__.rpartition(".")[2] in role_modules
    }
    tried = [a.data for a in ACTIONS if a.data]
    assert {p for p in patterns if not any(re.match(p, data) for data in tried)} == set()
    assert len(patterns) >= 15


@pytest.mark.parametrize(("name", "actor"), CASES, ids=[f"{n}-by-{k}" for n, k in CASES])
async def test_refused(world: World, name: str, actor: str):
    action = BY_NAME[name]
    target = await action.setup(world)
    before = await action.state(world, target)
    mark = await world.value("SELECT coalesce(max(id), 0) FROM audit_log")
    user = await world.actor(actor)
    chat = await action.attempt(world, user, target)
    answer = await chat.next_message()
    audit = await world.audit_after(mark)
    other = {OTHER_SCOPE[role] for role in ROLE_COMMANDS[action.guard] if role in OTHER_SCOPE}
    kind, audited = action.other_scope if actor in other else ("role", None)
    if name.startswith("sr:"):  # no /siaran in progress: an old or forged broadcast button
        assert STALE in answer.text
        outcome = "refused" if kind == "role" else "allowed"
        assert (user.id, "command:siaran", outcome) in audit
    elif kind == "role":
        assert REFUSED in answer.text
        assert (user.id, f"command:{action.guard}", "refused") in audit
    elif kind == "refused":
        assert WRONG_POINT in answer.text
        assert [d for a, act, d in audit if a == user.id and act == audited] != [], audit
    else:  # a reading command of the actor's own point or area
        text = await action.collect(chat, answer) if action.collect else answer.text
        assert action.marker(target) not in text
        assert (user.id, f"command:{action.guard}", "allowed") in audit
    assert await action.state(world, target) == before


@pytest.mark.parametrize("name", [a.name for a in ACTIONS])
async def test_allowed_at_the_right_point_or_area(world: World, name: str):
    action = BY_NAME[name]
    target = await action.setup(world)
    before = await action.state(world, target)
    mark = await world.value("SELECT coalesce(max(id), 0) FROM audit_log")
    user = await world.actor(allowed_actor(action))
    if name.startswith("sr:"):  # the buttons of a real /siaran
        assert action.follow is not None
        answer = await action.follow(world, user, target, None)  # type: ignore[arg-type]
    else:
        chat = await action.attempt(world, user, target)
        answer = await chat.next_message()
        if action.collect is not None:
            answer.text = await action.collect(chat, answer)
        if action.follow is not None:
            answer = await action.follow(world, user, target, answer)
    assert REFUSED not in (answer.text or "")
    assert WRONG_POINT not in (answer.text or "")
    assert (user.id, f"command:{action.guard}", "allowed") in await world.audit_after(mark)
    after = await action.state(world, target)
    assert action.allowed(target, before, after, answer), (before, after, answer.text)


# /domisili is every citizen's command, for the people linked to the asking chat only: whatever
# the account's role, another chat's person or report is out of reach and nothing changes.
@pytest.mark.parametrize("actor", list(ROLE_OF))
async def test_domisili_reaches_only_the_chats_own_people(world: World, actor: str):
    budi = await get_resident(world.db, PEOPLE["recorded"].nik)
    assert budi is not None
    surabaya = Place("regency", "35.78")
    report = await elsewhere.report(
        world.db, LINKED_CHAT, budi.nik, surabaya, since=date(2026, 1, 1), reason=None,
        today=TODAY, now=NOW,
    )  # fmt: skip
    rows = "SELECT count(*) FROM living_elsewhere WHERE chat_id = ? AND place_code = '35.78'"
    user = await world.actor(actor)
    user.send_text("/domisili")
    own = await user.next_message()
    assert "Budi" not in own.text
    user.press(own, "dom:go:1", raw=True)
    assert "tidak (lagi) tertaut" in (await user.next_message()).text
    user.press(own, f"dom:rm:{report.id}", raw=True)
    assert STALE in (await user.next_message()).text
    assert await world.value(rows, LINKED_CHAT) == 1


def _callback_handlers(app: Any) -> list[CallbackQueryHandler]:
    found: list[CallbackQueryHandler] = []

    def walk(handler: BaseHandler) -> None:
        if isinstance(handler, ConversationHandler):
            inner = [*handler.entry_points, *handler.fallbacks]
            inner += [h for hs in handler.states.values() for h in hs]
            for h in inner:
                walk(h)
        elif isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
            found.append(handler)

    for group in app.handlers.values():
        for handler in group:
            walk(handler)
    return found
