"""Fuzz (issue 6, robustness against bad input): the real bot, polling the local Bot API server,
is walked into every conversation state and then given whatever Hypothesis draws: random and
very long text, unicode, commands out of place, photos, documents, stickers, locations,
contacts, edited messages, button presses of old messages, callback data of random bytes, and
text or commands in a group chat.

After every step: the bot handled the update and answered that chat (in a group it may stay
silent; a button press is always answered), no handler raised (the error handler was not
called, nothing was logged at ERROR), the local server refused no request, and the database
invariants hold (no overbooking, one active booking per person and service, at most three per
chat, one open ticket per person, legal ticket states reached by legal steps, no empty outbox
message).

One bot serves every example (starting one per example would cost a second each); each state is
entered by a fresh Telegram account (and, for staff, officials and admins, a freshly registered
one), so what one example leaves behind does not change what the next one can reach.
"""

from __future__ import annotations

import asyncio
import csv
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import TypeHandler

from bot.db import vault_of
from bot.domain import ACTIVE_BOOKING_STATES
from bot.engine import open_database
from bot.handlers.common import HANDED_ON
from bot.nik import make_nik
from bot.services import booking as booking_service
from bot.services import drives, outbox, tickets
from bot.services.directory import get_resident
from bot.services.importer import import_residents
from bot.services.links import link_chat
from bot.services.roles import add_user
from botapi.server import FAKE_JPEG
from tests.conftest import HEADER, KK_SANTOSO, NOW, PEOPLE, Person

EXAMPLES = 10  # each walks every state: ~300 steps
FLOW_EXAMPLES = 20  # each walks every flow with random input slipped in: ~130 steps
# Fresh residents: ~35 an example, and enough for the replay of a failing example.
POOL = 50 * (max(EXAMPLES, FLOW_EXAMPLES) + 2)
SETTLE = 10.0  # seconds the bot may take to handle one update
STAFF_POINT = "tla-wlingi"  # citizens' ways in book Kanigoro: the staff's bookings stay apart
LINKED_CHAT = 5001  # Santoso household linked, so a broadcast has recipients
# Village groups the bot is in: every account writes there too, each time in a group of its own
# (an ordinary group gets one answer every few minutes: bot/services/group_gate.py).
GROUP_ID = -100_500

# ---------------------------------------------------------------- what the fuzzer may send

COMMANDS = (
    "start", "bantuan", "batal", "cek", "antre", "jadwal", "lapor", "laporan", "pengingat",
    "lokasi", "bahasa", "hapus_data", "hari_ini", "masuk", "tidak_hadir", "konfirmasi_besok",
    "tiket", "musnah", "daftar_musnah", "rekap", "statistik", "siaran", "deaktivasi", "tutup",
    "autokonfirmasi", "grup_petugas", "cabut", "daftar_keliling", "keliling", "tidakada",
)  # fmt: skip
# Every callback prefix the bot handles: forged data in each one's format reaches its handler.
PREFIXES = (
    "menu:", "bk:svc:", "bk:who:", "bk:pt:", "bk:pts", "bk:day:", "bk:slot:", "bk:ok", "bk:no",
    "bk:wait", "bk:wf:", "bk:wt:", "bk:start:", "bk:coming:", "bk:release:", "jd:move:",
    "jd:cancel:", "jd:drop:", "jd:keep", "wl:take:", "tk:cause:", "tk:who:", "tk:pt:", "tk:ok",
    "tk:no", "tk:skip", "link:nik:", "link:kk:", "consent:nik:", "consent:kk:", "consent:no",
    "lang:", "loc:", "rem:", "erase:", "st:ok:", "st:no:", "st:all", "st:out:", "tks:v:",
    "tks:p:", "tks:r:", "tks:h:", "tks:x:", "tks:f:", "sr:t:", "sr:d:", "sr:a:", "sr:ok", "sr:no",
    "dz:ask:", "dz:ok:", "dz:no:", "dz:csv:", "dv:csv:", "kl:new", "kl:chg:", "kl:del:", "kl:f:",
    "kl:skip", "kl:ok", "kl:save", "kl:drop", "kl:no",
)  # fmt: skip
NASTY = (
    "<b>tebal</b>", "</code>", "&amp; &lt;", "<a href='x'>", "{{ nik }}", "{% if %}", "%s %d",
    "'; DROP TABLE residents; --", "\u202eKTP", "\u200b", "ﷺ", "🙂" * 30, "NIK: 3505",
    "3505 1012 0580 0001", "35.05.10.120580.0001", "-1", "0", "9" * 40, "\n\n\n x", "null",
)  # fmt: skip


def _fits_callback(text: str) -> str:
    """Cut to Telegram's 1-64 bytes of callback data."""
    while len(text.encode()) > 64:
        text = text[:-1]
    return text or "x"


long_texts = st.builds(
    lambda c, n: (c * n)[:n],
    st.sampled_from(["x", "é", "🙂", "<", "&", "9 "]),
    st.sampled_from([4096, 1001, 201]),  # Telegram's limit, and just past the bot's own ones
)
texts = st.one_of(
    st.text(min_size=1, max_size=80),
    st.sampled_from(NASTY),
    st.from_regex(r"\A[0-9 .\-]{1,24}\Z"),
    long_texts,
).filter(lambda t: t.strip() != "")
commands = st.builds(
    lambda name, args: f"/{name} {args}".strip(),
    st.sampled_from(COMMANDS),
    st.one_of(st.just(""), st.text(max_size=40), st.from_regex(r"\A[A-Z0-9]{6}\Z")),
)
callback_data = st.one_of(
    st.binary(min_size=1, max_size=64).map(lambda b: _fits_callback(b.decode("utf-8", "replace"))),
    st.builds(
        lambda prefix, tail: _fits_callback(prefix + tail),
        st.sampled_from(PREFIXES),
        st.one_of(st.text(max_size=20), st.integers(-5, 10**6).map(str), st.just("")),
    ),
)


@dataclass(frozen=True)
class Act:
    """One input a person gives the bot."""

    kind: str
    arg: Any = None

    def __repr__(self) -> str:
        shown = repr(self.arg)
        return f"{self.kind}({shown[:60]}{'…' if len(shown) > 60 else ''})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints a failing example with this (long texts shortened)."""
        printer.text(repr(self))


acts = st.one_of(
    st.builds(Act, st.just("text"), texts),
    st.builds(Act, st.just("text"), commands),
    st.builds(Act, st.just("press"), st.integers(0, 40)),
    st.builds(Act, st.just("press_old"), st.tuples(st.integers(0, 40), st.integers(0, 40))),
    st.builds(Act, st.just("forge"), callback_data),
    st.builds(Act, st.just("edit"), texts),
    st.builds(Act, st.just("photo"), st.one_of(st.none(), st.text(min_size=1, max_size=200))),
    st.builds(
        Act,
        st.just("document"),
        st.tuples(
            st.sampled_from(["lapor.pdf", "ktp.jpg", "virus.exe", "x", "catatan.txt"]),
            st.sampled_from(["application/pdf", "image/jpeg", "application/x-msdownload", ""]),
            st.sampled_from([1, 5000, 10 * 1024 * 1024 + 1]),
        ),
    ),
    st.builds(Act, st.just("sticker"), st.sampled_from(["👍", "🙂", "🇮🇩"])),
    st.builds(Act, st.just("group"), st.one_of(texts, commands)),
    st.builds(
        Act,
        st.just("location"),
        st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    ),
    st.builds(Act, st.just("contact"), st.one_of(st.none(), st.text(min_size=1, max_size=30))),
)

# ---------------------------------------------------------------- the states and their way in


@dataclass(frozen=True)
class Press:
    """Press the first button of the bot's latest message whose data starts with `prefix`."""

    prefix: str


@dataclass(frozen=True)
class Typed:
    """Type a text built from the state's context (its resident, booking or ticket)."""

    build: Callable[[Ctx], str]
    needs: str = "person"


@dataclass(frozen=True)
class Forged:
    """Press data built from the state's context on the bot's latest message."""

    build: Callable[[Ctx], str]
    needs: str = "person"


@dataclass(frozen=True)
class Answer:
    """A typed answer of a flow (a description, a reason, a place): `usual` or a random text."""

    usual: str


@dataclass
class Ctx:
    """What a state's way in refers to."""

    person: Any = None
    booking: Any = None
    ticket: Any = None


NIK = Typed(lambda c: c.person.nik)
KK = Typed(lambda c: c.person.kk)
CHECK = Typed(lambda c: f"/cek {c.person.nik} {c.person.kk}")
BOOK = ["/antre", Press("bk:svc:rekam"), Press("bk:who:new"), NIK, KK]
DAY = [*BOOK, Press("bk:pt:kanigoro"), Press("bk:day:")]
SUMMARY = [*DAY, Press("bk:slot:")]
BOOKED = [*SUMMARY, Press("bk:ok"), "/jadwal"]
REPORT = ["/lapor", Press("tk:cause:peeling"), Press("tk:who:new"), NIK, KK]
REPORT_SUMMARY = [*REPORT, Press("tk:skip"), Press("tk:pt:kanigoro")]
SIARAN = ["/siaran", Press("sr:t:mobile")]
ELSEWHERE = [CHECK, Press("link:kk:"), Press("consent:kk:"), "/domisili", Press("dom:go:")]

CITIZEN, STAFF, OFFICIAL, ADMIN = "citizen", "staff", "official", "admin"
PDF = Act("document", ("laporan-polisi.pdf", "application/pdf", 20_000))
# Whole flows, walked with random input slipped in between their steps: what a person typed at
# one step shows up steps later (a summary, a preview, a notice to staff).
FLOWS: dict[str, tuple[str, list[Any]]] = {
    "check and link": (CITIZEN, [
        "/cek", NIK, KK, Press("link:kk:"), Press("consent:kk:"), "/pengingat", Press("rem:"),
    ]),
    "book, move, cancel": (CITIZEN, [
        *SUMMARY, Press("bk:ok"), "/jadwal", Press("jd:move:"), Press("bk:day:"),
        Press("bk:slot:"), Press("bk:ok"), "/jadwal", Press("jd:cancel:"), Press("jd:drop:"),
    ]),
    "waitlist": (CITIZEN, [*DAY[:-1], Press("bk:wait"), Press("bk:wf:"), Press("bk:wt:")]),
    "damaged card, other cause": (CITIZEN, [
        "/lapor", Press("tk:cause:other"), Answer("retak di pojok"), *REPORT[2:],
        Press("tk:skip"), Press("tk:pt:"), Press("tk:ok"), "/laporan", Press("bk:start:"),
    ]),
    "lost card": (CITIZEN, [
        "/lapor", Press("tk:cause:lost"), *REPORT[2:], PDF, Press("tk:pt:"), Press("tk:ok"),
    ]),
    "language": (CITIZEN, ["/bahasa", Press("lang:en"), "/start", Press("menu:")]),
    "living elsewhere": (CITIZEN, [
        *ELSEWHERE, Press("dom:k:abroad"), Answer("Malaysia"), Answer("06-2025"),
        Press("dom:r:"), Press("dom:ok"), "/domisili", Press("dom:rm:"),
    ]),
    "service points": (CITIZEN, ["/lokasi", Press("loc:")]),
    "erase": (CITIZEN, [
        CHECK, Press("link:nik:"), Press("consent:nik:"), "/hapus_data", Press("erase:"),
    ]),
    "staff: reject a booking": (STAFF, [
        "/hari_ini", Forged(lambda c: f"st:no:{c.booking.id}", "tomorrow"),
        Answer("berkas belum lengkap"),
    ]),
    "staff: check in": (STAFF, [
        Typed(lambda c: f"/masuk {c.booking.code}", "today"), Press("st:out:"),
    ]),
    "staff: ticket steps": (STAFF, [
        "/tiket", Forged(lambda c: f"tks:f:{c.ticket.id}", "ticket"), Press("tks:v:"),
        Press("tks:p:"), Press("tks:r:"), Press("tks:h:"),
    ]),
    "staff: reject a ticket": (STAFF, [
        "/tiket", Forged(lambda c: f"tks:x:{c.ticket.id}", "ticket"), Answer("foto tidak jelas"),
    ]),
    "broadcast: mobile recording": (ADMIN, [
        *SIARAN, Press("sr:d:"), Press("sr:a:"), Press("sr:ok"),
    ]),
    "staff: drive list": (STAFF, ["/daftar_keliling", Press("dv:csv:")]),
    "broadcast: free text": (OFFICIAL, [
        "/siaran", Press("sr:t:free"), Answer("Perekaman hari Sabtu"), Press("sr:a:"),
        Press("sr:ok"),
    ]),
}  # fmt: skip
STATES: dict[str, tuple[str, list[Any]]] = {
    "no conversation": (CITIZEN, []),
    "start menu": (CITIZEN, ["/start"]),
    "help": (CITIZEN, ["/bantuan"]),
    "language": (CITIZEN, ["/bahasa"]),
    "service points": (CITIZEN, ["/lokasi"]),
    "erase: confirm": (CITIZEN, ["/hapus_data"]),
    "check: NIK": (CITIZEN, ["/cek"]),
    "check: KK": (CITIZEN, ["/cek", NIK]),
    "check: answered": (CITIZEN, [CHECK]),
    "link: consent": (CITIZEN, [CHECK, Press("link:kk:")]),
    "reminders": (CITIZEN, [CHECK, Press("link:kk:"), Press("consent:kk:"), "/pengingat"]),
    "elsewhere: place": (CITIZEN, [*ELSEWHERE, Press("dom:k:regency")]),
    "elsewhere: why": (
        CITIZEN,
        [*ELSEWHERE, Press("dom:k:abroad"), "Malaysia", "06-2025"],
    ),
    "booking: service": (CITIZEN, BOOK[:1]),
    "booking: person": (CITIZEN, BOOK[:2]),
    "booking: NIK": (CITIZEN, BOOK[:3]),
    "booking: KK": (CITIZEN, BOOK[:4]),
    "booking: point": (CITIZEN, BOOK),
    "booking: day": (CITIZEN, DAY[:-1]),
    "booking: slot": (CITIZEN, DAY),
    "booking: summary": (CITIZEN, SUMMARY),
    "waitlist: from": (CITIZEN, [*DAY[:-1], Press("bk:wait")]),
    "waitlist: until": (CITIZEN, [*DAY[:-1], Press("bk:wait"), Press("bk:wf:")]),
    "my bookings": (CITIZEN, BOOKED),
    "my bookings: cancel?": (CITIZEN, [*BOOKED, Press("jd:cancel:")]),
    "my bookings: move": (CITIZEN, [*BOOKED, Press("jd:move:")]),
    "report: cause": (CITIZEN, ["/lapor"]),
    "report: description": (CITIZEN, ["/lapor", Press("tk:cause:other")]),
    "report: person": (CITIZEN, REPORT[:2]),
    "report: NIK": (CITIZEN, REPORT[:3]),
    "report: KK": (CITIZEN, REPORT[:4]),
    "report: photo": (CITIZEN, REPORT),
    "report: police report": (CITIZEN, ["/lapor", Press("tk:cause:lost"), *REPORT[2:]]),
    "report: point": (CITIZEN, [*REPORT, Press("tk:skip")]),
    "report: summary": (CITIZEN, REPORT_SUMMARY),
    "my reports": (CITIZEN, [*REPORT_SUMMARY, Press("tk:ok"), "/laporan"]),
    "staff: today": (STAFF, ["/hari_ini"]),
    "staff: reject reason": (
        STAFF,
        ["/hari_ini", Forged(lambda c: f"st:no:{c.booking.id}", "tomorrow")],
    ),
    "staff: checked in": (STAFF, [Typed(lambda c: f"/masuk {c.booking.code}", "today")]),
    "staff: tickets": (STAFF, ["/tiket"]),
    "staff: ticket reject reason": (
        STAFF,
        ["/tiket", Forged(lambda c: f"tks:x:{c.ticket.id}", "ticket")],
    ),
    "official: summary": (OFFICIAL, ["/rekap"]),
    "official: broadcast": (OFFICIAL, ["/siaran"]),
    "broadcast: template": (ADMIN, ["/siaran"]),
    "broadcast: drive": (ADMIN, SIARAN),
    "broadcast: free text": (ADMIN, ["/siaran", Press("sr:t:free")]),
    "broadcast: audience": (ADMIN, ["/siaran", Press("sr:t:invitation")]),
    "broadcast: preview": (ADMIN, ["/siaran", Press("sr:t:invitation"), Press("sr:a:linked")]),
    "admin: statistics": (ADMIN, ["/statistik"]),
    "admin: deactivation": (ADMIN, ["/deaktivasi"]),
}


# ---------------------------------------------------------------- the harness


class Failures(logging.Handler):
    """ERROR records of the bot's and PTB's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()} {record.exc_info or ''}")


@dataclass(repr=False)
class Fuzz:
    """Drives the running bot one update at a time and checks it after each."""

    app: Any
    botapi: Any
    conn: Any
    people: Iterator[Any]
    started: Counter[int] = field(default_factory=Counter)
    finished: Counter[int] = field(default_factory=Counter)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    crashes: list[str] = field(default_factory=list)
    failures: Failures = field(default_factory=Failures)
    trace: list[str] = field(default_factory=list)
    next_id: int = 700_000
    seeded: int = 0
    invariants: Invariants = field(init=False)

    def __post_init__(self) -> None:
        self.invariants = Invariants(self.conn)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints the fixture of a failing example with this."""
        printer.text("<fuzz harness>")

    def watch(self) -> None:
        """Count each update in and out of the handlers; record every unhandled error."""
        self.app.add_handler(TypeHandler(Update, self._started), group=-100)
        self.app.add_handler(TypeHandler(Update, self._finished), group=100)
        self.app.add_error_handler(self._crashed)

    async def _started(self, update: Update, context: Any) -> None:
        self.started[update.update_id] += 1

    async def _finished(self, update: Update, context: Any) -> None:
        self.finished[update.update_id] += 1
        self.changed.set()

    async def _crashed(self, update: object, context: Any) -> None:
        self.crashes.append(f"{type(context.error).__name__}: {context.error}")
        self.changed.set()

    def _handled(self, update_id: int) -> bool:
        """Every pass over the update is done, including a second one after hand_on."""
        done = self.finished[update_id]
        handed_on = update_id in self.app.bot_data.get(HANDED_ON, set())
        return done >= 1 and self.started[update_id] == done and not handed_on

    async def settle(self, update_id: int) -> None:
        """Wait until the bot has handled the update."""
        try:
            async with asyncio.timeout(SETTLE):
                while not self._handled(update_id):
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            self.fail(f"update {update_id} was not handled within {SETTLE}s")

    def fail(self, why: str) -> None:
        raise AssertionError(f"{why}\nsteps:\n" + "\n".join(self.trace[-15:]))

    # --- accounts and what states need

    async def account(self, role: str) -> Any:
        """A fresh Telegram account, registered for `role` unless a citizen."""
        self.next_id += 1
        uid = self.next_id
        if role == STAFF:
            await add_user(self.conn, uid, STAFF, service_point=STAFF_POINT, area=None, now=NOW)
        elif role == OFFICIAL:
            await add_user(self.conn, uid, OFFICIAL, service_point=None, area="35.05.10", now=NOW)
        elif role == ADMIN:
            await add_user(self.conn, uid, ADMIN, service_point=None, area=None, now=NOW)
        return self.botapi.user(uid, first_name=f"Uji {uid}")

    async def context(self, way_in: list[Any]) -> Ctx:
        """The resident, pending booking and open ticket a way in refers to (fresh ones)."""
        ctx = Ctx()
        needs = {item.needs for item in way_in if isinstance(item, Typed | Forged)}
        if "person" in needs:
            ctx.person = next(self.people)
        if needs & {"today", "tomorrow"}:
            ctx.booking = await self._pending_booking(next(self.people), today="today" in needs)
        if "ticket" in needs:
            ctx.ticket = await self._open_ticket(next(self.people))
        return ctx

    async def _pending_booking(self, person: Any, *, today: bool) -> Any:
        self.next_id += 1
        self.botapi.user(self.next_id)  # the citizen's chat exists: staff decisions reach it
        self.seeded += 1
        # today 11:00-14:00 WIB (7 slots, an hour ahead at least), tomorrow 08:00-14:00 (13)
        first, slots = (
            (datetime(2026, 11, 24, 4, tzinfo=UTC), 7)
            if today
            else (datetime(2026, 11, 25, 1, tzinfo=UTC), 13)
        )
        start = first + timedelta(minutes=30 * (self.seeded % slots))
        return await booking_service.book(
            self.conn,
            chat_id=self.next_id,
            nik=person.nik,
            service="rekam",
            point_code=STAFF_POINT,
            start_at=start,
            now=NOW,
        )

    async def _open_ticket(self, person: Any) -> Any:
        self.next_id += 1
        self.botapi.user(self.next_id)
        photo = self.botapi.sim.register_file(FAKE_JPEG, "photos", ".jpg", "image/jpeg")
        attachment = tickets.Attachment(photo.file_id, "photo", "image/jpeg", len(FAKE_JPEG))
        return await tickets.report(
            self.conn,
            chat_id=self.next_id,
            nik=person.nik,
            kind="damaged",
            cause="chip",
            description=None,
            attachment=attachment,
            point_code=STAFF_POINT,
            now=NOW,
        )

    # --- steps

    async def enter(self, user: Any, item: Any, ctx: Ctx, *, strict: bool = True) -> bool:
        """One step of a way in; False when its button is not there (only if not `strict`)."""
        if isinstance(item, str):
            await self.act(user, Act("text", item))
        elif isinstance(item, Act):
            await self.act(user, item)
        elif isinstance(item, Typed):
            await self.act(user, Act("text", item.build(ctx)))
        elif isinstance(item, Forged):
            await self.act(user, Act("forge", item.build(ctx)))
        else:
            found = self._button(user, item.prefix)
            if found is None:
                if strict:
                    self.fail(
                        f"no button {item.prefix!r} in chat {user.id}: the way in went elsewhere"
                    )
                return False
            message, data = found
            await self._step(user, f"press {data!r}", lambda: user.press(message, data))
        return True

    def _button(self, user: Any, prefix: str) -> tuple[Any, str] | None:
        """The latest bot message in the chat with a button whose data starts with `prefix`."""
        for message in reversed(self._bot_messages(user)):
            for data in self._data(message):
                if data.startswith(prefix):
                    return message, data
        return None

    def _bot_messages(self, user: Any) -> list[Any]:
        """The live messages the bot has in the chat, oldest first (current content)."""
        found = {}
        for sent in user.inbox:
            stored = self.botapi.sim.messages.get((sent.chat_id, sent.message_id))
            if stored is not None and stored.from_bot and not stored.deleted:
                found[sent.message_id] = stored.message
        return [found[key] for key in sorted(found)]

    @staticmethod
    def _data(message: dict[str, Any]) -> list[str]:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]

    async def act(self, user: Any, act: Act) -> None:
        """Give the bot one input drawn by Hypothesis (or a step of a way in)."""
        kind, arg = act.kind, act.arg
        if kind in ("press", "press_old", "forge"):
            with_buttons = [m for m in self._bot_messages(user) if self._data(m)]
            anything = self._bot_messages(user)
            if kind == "forge" and anything:
                message = anything[-1]
                await self._step(user, act, lambda: user.press(message, arg, raw=True))
                return
            if not with_buttons:
                await self.act(user, Act("text", "/start"))
                return
            pick, index = (arg[0], arg[1]) if kind == "press_old" else (-1, arg)
            message = with_buttons[pick % len(with_buttons) if kind == "press_old" else -1]
            data = self._data(message)[index % len(self._data(message))]
            await self._step(user, act, lambda: user.press(message, data))
            return
        if kind == "edit":
            mine = [m for m in self._own_texts(user)]
            if not mine:
                await self.act(user, Act("text", arg))
                return
            await self._step(user, act, lambda: user.edit_text(mine[-1], arg))
            return
        if kind == "group":  # silence is a right answer there, except to a NIK or a command
            self.next_id += 1
            group = self.botapi.group(GROUP_ID - self.next_id, title="Grup Desa Minggirsari")
            await self._step(user, act, lambda: user.send_text(arg, chat=group), answer=False)
            return
        await self._step(user, act, SENDERS[kind](user, arg))

    def _own_texts(self, user: Any) -> list[Any]:
        return [
            stored.message
            for (chat_id, _), stored in self.botapi.sim.messages.items()
            if chat_id == user.id and not stored.from_bot and "text" in stored.message
        ]

    async def _step(
        self, user: Any, what: Any, send: Callable[[], Any], *, answer: bool = True
    ) -> None:
        """Send, wait until handled, then check the answer, the errors and the database."""
        inbox, answers = len(user.inbox), len(user.callback_answers)
        crashes, logged = len(self.crashes), len(self.failures.records)
        refused = len(self.botapi.errors)
        result = send()
        update_id = self.botapi.sim.last_update_id
        self.trace.append(f"  chat {user.id}: {what}")
        await self.settle(update_id)
        if len(self.crashes) > crashes or len(self.failures.records) > logged:
            self.fail(f"the bot raised: {self.crashes[crashes:]} {self.failures.records[logged:]}")
        if len(self.botapi.errors) > refused:
            self.fail(f"the bot made invalid Bot API calls: {self.botapi.errors[refused:]}")
        pressed = isinstance(result, str)
        if pressed and not self.botapi.sim.query_answered(result):
            self.fail("a button press was never answered (the spinner keeps turning)")
        told = any(a.get("text") for a in user.callback_answers[answers:])
        if answer and len(user.inbox) == inbox and not told:
            self.fail("the bot answered nothing")
        await self.check_invariants()

    async def check_invariants(self) -> None:
        """The database rules no input may break."""
        for problem in await self.invariants.violations():
            self.fail(f"database invariant broken: {problem}")


SENDERS: dict[str, Callable[[Any, Any], Callable[[], Any]]] = {
    "text": lambda user, text: lambda: user.send_text(text),
    "photo": lambda user, caption: lambda: user.send_photo(caption),
    "document": lambda user, a: lambda: user.send_document(a[0], a[1], a[2]),
    "sticker": lambda user, emoji: lambda: user.send_sticker(emoji),
    "location": lambda user, at: lambda: user.send_location(*at),
    "contact": lambda user, name: lambda: user.send_contact(first_name=name),
}

ACTIVE = ", ".join(f"'{s}'" for s in ACTIVE_BOOKING_STATES)
NEXT_TICKET_STATE = {
    None: {"reported"},
    "reported": {"verified", "rejected"},
    "verified": {"printed", "rejected"},
    "printed": {"ready"},
    "ready": {"handed_over"},
}
LEGAL_STEPS = ", ".join(
    f"('{old or ''}', '{new}')" for old, news in NEXT_TICKET_STATE.items() for new in sorted(news)
)
# Each rule: a query naming its violations (`what`). They go to the database as one statement,
# since a step's check ran after each of ~3,000 steps: on PostgreSQL every statement is a round
# trip to the server, and the six of a step were a third of the fuzz tests' statements.
RULES = {
    "overbooked slot": f"""
        SELECT b.service_point || ' ' || b.start_at || ': ' || count(*) || ' bookings for '
            || p.slot_capacity || ' places' AS what
        FROM bookings b JOIN service_points p ON p.code = b.service_point
        WHERE b.state IN ({ACTIVE})
        GROUP BY b.service_point, b.start_at, p.slot_capacity HAVING count(*) > p.slot_capacity""",
    "two active bookings for one person and service": f"""
        SELECT 'bookings ' || min(id) || ' and ' || max(id) || ' (' || service || ')' AS what
        FROM bookings WHERE state IN ({ACTIVE})
        GROUP BY nik_ref, service HAVING count(*) > 1""",
    "more than 3 active bookings in one chat": f"""
        SELECT 'chat ' || chat_id || ': ' || count(*) AS what FROM bookings
        WHERE state IN ({ACTIVE}) GROUP BY chat_id HAVING count(*) > 3""",
    "two open tickets for one person": """
        SELECT 'tickets ' || min(id) || ' and ' || max(id) AS what FROM tickets
        WHERE state NOT IN ('handed_over', 'rejected') GROUP BY nik_ref HAVING count(*) > 1""",
    "a ticket step no rule allows": f"""
        SELECT 'ticket ' || ticket_id || ' went ' || coalesce(before, 'nowhere') || ' -> '
            || after AS what
        FROM (SELECT ticket_id, state AS after,
                     lag(state) OVER (PARTITION BY ticket_id ORDER BY id) AS before
              FROM ticket_events) AS steps
        WHERE (coalesce(before, ''), after) NOT IN (VALUES {LEGAL_STEPS})""",
    "a ticket without its history": """
        SELECT 'ticket ' || id || ' is ' || state || ' and has no events' AS what
        FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id)""",
    "a ticket in another state than its last event": """
        SELECT 'ticket ' || t.id || ' is ' || t.state || ' but its last event ' || e.state AS what
        FROM tickets t JOIN ticket_events e
            ON e.id = (SELECT max(id) FROM ticket_events WHERE ticket_id = t.id)
        WHERE e.state <> t.state""",
}
CHECK_RULES = " UNION ALL ".join(
    f"SELECT '{name}', what FROM ({sql}) AS rule_{n}" for n, (name, sql) in enumerate(RULES.items())
)


@dataclass
class Invariants:
    """The database rules no input may break: `violations()` describes each broken one.

    Outbox texts are sealed in the bot (on PostgreSQL there is no unseal in SQL): each is
    opened in Python, once, and again only when its sealed text changed."""

    conn: Any
    opened: dict[int, bytes] = field(default_factory=dict)

    async def violations(self) -> list[str]:
        found = [f"{rule}: {what}" for rule, what in await self.conn.execute_fetchall(CHECK_RULES)]
        vault = vault_of(self.conn)
        for message_id, text, chat_id in await self.conn.execute_fetchall(
            "SELECT id, text, chat_id FROM outbox"
        ):
            text = bytes(text)
            if self.opened.get(message_id) == text:
                continue
            if not vault.open(text, "outbox.text", chat_id).strip():
                found.append(f"outbox message without text: {message_id}")
            self.opened[message_id] = text
        return found


def pool_people(count: int) -> list[Any]:
    """Unrecorded adults of Kanigoro, four to a household, none of them known to any chat."""
    born = date(1990, 1, 1)
    return [
        Person(
            nik=make_nik("350510", born + timedelta(days=i), "LP"[i % 2], 500 + i),
            kk=f"35051001029{i // 4:05d}",
            nama=f"Warga Uji {i}",
            born=born + timedelta(days=i),
            sex="LP"[i % 2],
            kawin="BELUM KAWIN",
            desa="35.05.10.2001",
            rekam="",
            status="AKTIF",
        )
        for i in range(count)
    ]


@pytest.fixture
async def fuzz(running_bot, botapi, settings, tmp_path):
    """The harness on the running bot, with a pool of fresh residents and a linked household."""
    people = pool_people(POOL)
    path = tmp_path / "pool.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER.split(","))
        writer.writerows(p.row() for p in people)
    conn = await open_database(settings)
    assert (await import_residents(conn, path, now=NOW)).rejected == []
    botapi.user(LINKED_CHAT)
    resident = await get_resident(conn, PEOPLE["mother"].nik)
    await link_chat(conn, LINKED_CHAT, resident, household=True, now=NOW)
    assert resident.no_kk == KK_SANTOSO
    await drives.create_drive(  # the staff's drive list and a drive to announce
        conn,
        admin=None,
        name="Perekaman keliling SMAN 1 Kanigoro",
        place="SMAN 1 Kanigoro",
        day=date(2026, 11, 26),
        hours="08:00-12:00",
        capacity=5,
        area="350510",
        service_point=STAFF_POINT,
        now=NOW,
    )
    driver = Fuzz(running_bot, botapi, conn, iter(people))
    driver.watch()
    loggers = [logging.getLogger("bot"), logging.getLogger("telegram")]
    for logger in loggers:
        logger.addHandler(driver.failures)
    yield driver
    for logger in loggers:
        logger.removeHandler(driver.failures)
    await conn.close()


@pytest.mark.engines("sqlite", "postgresql")
async def test_the_check_after_each_step_names_every_broken_rule(fuzz):
    """The invariants the fuzz tests check after every step, each broken by hand."""
    conn = fuzz.conn
    bookings = [await fuzz._pending_booking(next(fuzz.people), today=False) for _ in range(4)]
    tickets_ = [await fuzz._open_ticket(next(fuzz.people)) for _ in range(3)]
    await outbox.enqueue(
        conn, key="fuzz:check", chat_id=LINKED_CHAT, kind="reply", text="Halo", now=NOW
    )
    assert await fuzz.invariants.violations() == []
    first, second, third = (b.id for b in bookings[:3])
    await conn.execute("UPDATE service_points SET slot_capacity = 1 WHERE code = ?", (STAFF_POINT,))
    await conn.execute(
        "UPDATE bookings SET chat_id = ?, start_at = ?",
        (bookings[0].chat_id, bookings[0].start_at.isoformat()),
    )
    await conn.execute("DROP INDEX bookings_one_active_per_person_service")
    same_person = "UPDATE {0} SET nik_ref = (SELECT nik_ref FROM {0} WHERE id = ?) WHERE id = ?"
    await conn.execute(same_person.format("bookings"), (first, second))
    await conn.execute("DROP INDEX tickets_one_open_per_person")
    await conn.execute(same_person.format("tickets"), (tickets_[0].id, tickets_[1].id))
    await conn.execute(
        "INSERT INTO ticket_events (ticket_id, at, state) VALUES (?, ?, 'printed')",
        (tickets_[0].id, NOW.isoformat()),
    )
    await conn.execute("DELETE FROM ticket_events WHERE ticket_id = ?", (tickets_[2].id,))
    blank = vault_of(conn).seal(" ", "outbox.text", LINKED_CHAT)
    await conn.execute("UPDATE outbox SET text = ? WHERE chat_id = ?", (blank, LINKED_CHAT))
    found = await fuzz.invariants.violations()
    broken = {problem.split(":")[0] for problem in found}
    assert broken == {*RULES, "outbox message without text"}, found
    assert f"bookings {first} and {second} (rekam)" in "\n".join(found)
    assert third  # the fourth booking made the chat's active bookings more than three


# ~3,000 steps: 1-2 minutes on SQLite, 2-4 on PostgreSQL on a loaded machine. A hang is caught
# at the step it happens in (SETTLE), so the suite's 120 s per test is not the guard here.
@pytest.mark.timeout(600)
@hsettings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # one shared bot: shrinking would not reproduce
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Everything is drawn before the first step, so a failing example replays the same inputs.
@given(
    plan=st.fixed_dictionaries({state: st.lists(acts, min_size=1, max_size=3) for state in STATES})
)
async def test_any_input_in_any_state(fuzz, plan):
    for state, (role, way_in) in STATES.items():
        user = await fuzz.account(role)
        ctx = await fuzz.context(way_in)
        fuzz.trace.append(f"{state} ({role}):")
        for item in way_in:
            await fuzz.enter(user, item, ctx)
        for act in plan[state]:
            await fuzz.act(user, act)


# At each flow: before up to three steps (or after the last), one or two random inputs; and
# each typed answer either the usual one or a random text.
injections = st.dictionaries(st.integers(0, 20), st.lists(acts, min_size=1, max_size=2), max_size=3)


def flow_plan(steps: list[Any]) -> st.SearchStrategy[Any]:
    """Where random input is slipped in, and what each typed answer is."""
    n = sum(isinstance(item, Answer) for item in steps)
    answers = st.lists(st.one_of(st.none(), texts, long_texts), min_size=n, max_size=n)
    return st.tuples(injections, answers)


@pytest.mark.timeout(600)  # as above
@hsettings(
    max_examples=FLOW_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.fixed_dictionaries({flow: flow_plan(steps) for flow, (_, steps) in FLOWS.items()}))
async def test_any_input_along_every_flow(fuzz, plan):
    for flow, (role, steps) in FLOWS.items():
        user = await fuzz.account(role)
        ctx = await fuzz.context(steps)
        fuzz.trace.append(f"{flow} ({role}):")
        slipped_in, answers = plan[flow]
        answers = iter(answers)
        for position, item in enumerate([*steps, None]):
            for act in slipped_in.get(position % (len(steps) + 1), []):
                await fuzz.act(user, act)
            if isinstance(item, Answer):
                item = next(answers) or item.usual
            if item is not None and not await fuzz.enter(user, item, ctx, strict=False):
                break  # the random input took the person elsewhere


LONGEST = "é" * 4096  # the longest message Telegram lets a person send


async def test_longest_text_everywhere(fuzz):
    """No draw needed: the longest text as every typed answer of every flow, in every state,
    and as the argument of every command for every role."""
    for flow, (role, steps) in FLOWS.items():
        user = await fuzz.account(role)
        ctx = await fuzz.context(steps)
        fuzz.trace.append(f"{flow} ({role}), every answer {len(LONGEST)} characters:")
        for item in steps:
            item = LONGEST if isinstance(item, Answer) else item
            if not await fuzz.enter(user, item, ctx, strict=False):
                break
    for state, (role, way_in) in STATES.items():
        user = await fuzz.account(role)
        ctx = await fuzz.context(way_in)
        fuzz.trace.append(f"{state} ({role}):")
        for item in way_in:
            await fuzz.enter(user, item, ctx)
        await fuzz.act(user, Act("text", LONGEST))
    for role in (CITIZEN, STAFF, OFFICIAL, ADMIN):
        user = await fuzz.account(role)
        for command in COMMANDS:
            await fuzz.act(user, Act("text", f"/{command} {LONGEST}"[:4096]))
