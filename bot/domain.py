"""Frozen value objects passed between storage, services and handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Sex = Literal["L", "P"]
MARITAL_STATUSES = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")
NIK_STATUSES = ("AKTIF", "NONAKTIF")


@dataclass(frozen=True)
class Area:
    """A Kemendagri region: the regency, a kecamatan or a desa/kelurahan."""

    code: str  # plain digits: 3505, 350510, 3505102001
    dotted_code: str
    level: str
    name: str
    parent_code: str


@dataclass(frozen=True)
class Resident:
    """One row of the population copy imported from SIAK."""

    nik: str
    no_kk: str
    nama: str
    tanggal_lahir: date
    jenis_kelamin: Sex
    status_kawin: str
    kode_desa: str  # plain 10-digit code
    tanggal_rekam: date | None
    status_nik: str  # AKTIF / NONAKTIF

    @property
    def recorded(self) -> bool:
        """Whether the biometric recording (perekaman e-KTP) has happened."""
        return self.tanggal_rekam is not None

    @property
    def active(self) -> bool:
        """Whether the NIK is active."""
        return self.status_nik == "AKTIF"

    @property
    def ever_married(self) -> bool:
        """Married, divorced or widowed: wajib KTP at any age."""
        return self.status_kawin != "BELUM KAWIN"

    def age_on(self, day: date) -> int:
        """Completed years of age on `day`."""
        birth = self.tanggal_lahir
        return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


DEFAULT_HOURS_TEXT = "mon-thu 08:00-14:30, fri 08:00-11:00"  # as in migration 0003
SERVICES = ("rekam", "rusak", "hilang", "ambil")  # recording, damaged, lost, pick-up
# A booking that holds its place and has not begun: its citizen may move, cancel or release it,
# staff may confirm, reject or check it in, it is reminded of, and at day's end it is a no-show.
HOLDING_STATES = ("pending", "confirmed")
ACTIVE_BOOKING_STATES = (*HOLDING_STATES, "checked_in")


@dataclass(frozen=True)
class Booking:
    """One booked visit. `start_at` is UTC; `day` is the visit's date in WIB."""

    id: int
    code: str
    chat_id: int
    nik: str
    service: str
    service_point: str
    start_at: datetime
    day: date
    queue_number: int
    state: str
    reason: str | None
    version: int = 1  # grows with every change of slot or state (a staff notice shows one)

    @property
    def active(self) -> bool:
        """Whether the booking still holds its place."""
        return self.state in ACTIVE_BOOKING_STATES


TICKET_KINDS = ("damaged", "lost")
DAMAGE_CAUSES = ("peeling", "chip", "printing", "other")
# reported → verified → printed → ready → handed_over, or rejected (from reported/verified);
# ready → not_collected after the pick-up deadline (still open: it may be handed over).
TICKET_STATES = (
    "reported",
    "verified",
    "printed",
    "ready",
    "not_collected",
    "handed_over",
    "rejected",
)


@dataclass(frozen=True)
class Ticket:
    """A report of a damaged or lost e-KTP card and its free replacement."""

    id: int
    number: str  # what the citizen quotes, e.g. "KR-7PX2M"
    chat_id: int
    nik: str
    kind: str  # damaged / lost
    cause: str  # peeling / chip / printing / other, or "lost"
    description: str | None
    file_id: str | None  # Telegram file_id of the photo or police report
    file_type: str | None  # photo / document
    service_point: str  # where the new card is printed and picked up
    state: str
    reason: str | None  # why it was rejected
    ready_until: date | None  # pick-up deadline once ready
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TicketEvent:
    """One step in a ticket's history."""

    at: datetime
    state: str
    actor_id: int | None
    note: str | None


@dataclass(frozen=True)
class ServicePoint:
    """A place where residents record their e-KTP or replace a card."""

    code: str
    name: str
    kind: str  # office / tla / kecamatan
    kecamatan_code: str
    address: str
    latitude: float
    longitude: float
    slot_capacity: int
    prints_cards: bool
    hours: str = DEFAULT_HOURS_TEXT  # see bot.services.opening_hours
    contact: str = ""  # phone or WhatsApp number for questions; empty: ask at the place
    open_day: date | None = None  # a drive's place: open on this day only (see migration 0024)
    pinned: bool = True  # False: no map pin to send (a drive whose place has no coordinates)


@dataclass(frozen=True)
class Drive:
    """A mobile recording drive (perekaman keliling): one day at a place, run by the staff of an
    ordinary service point. Its bookings are ordinary bookings at its own point `point_code`."""

    id: int
    code: str  # 6 characters read aloud, like a booking code; the deep link's `drv_<code>`
    point: ServicePoint  # the drive's own point: name, place (address), day, hours, capacity, pin
    run_by: str  # the code of the service point whose staff run it
    area_code: str  # the desa/kelurahan or kecamatan it serves
    state: str  # planned / cancelled
    created_by: int | None

    @property
    def point_code(self) -> str:
        """The code of the drive's own service point: the bookings' `service_point`."""
        return self.point.code

    @property
    def name(self) -> str:
        """What the drive is called, e.g. 'Perekaman keliling SMAN 1 Talun'."""
        return self.point.name

    @property
    def place(self) -> str:
        """Where it is, as people find it."""
        return self.point.address

    @property
    def day(self) -> date:
        """The drive's day (WIB)."""
        assert self.point.open_day is not None
        return self.point.open_day

    @property
    def hours(self) -> str:
        """Its opening hours on the day, 'HH:MM-HH:MM' (WIB)."""
        return self.point.hours.split(" ", 1)[1]

    @property
    def capacity(self) -> int:
        """Places per 30-minute slot."""
        return self.point.slot_capacity

    @property
    def cancelled(self) -> bool:
        """Whether the drive was cancelled (its point is then closed)."""
        return self.state == "cancelled"


@dataclass(frozen=True)
class RoleUser:
    """A Telegram account with a role."""

    telegram_id: int
    role: str  # staff / official / admin
    service_point: str | None
    area_code: str | None


@dataclass(frozen=True)
class Link:
    """One consented link."""

    id: int
    chat_id: int
    kind: str  # 'nik' or 'household'
    subject: str  # the NIK or KK number
    reminders_on: bool


@dataclass(frozen=True)
class WaitlistEntry:
    """A person waiting for a place at a point between two days (WIB)."""

    id: int
    chat_id: int
    nik: str
    service: str
    service_point: str
    first_day: date
    last_day: date
    state: str  # waiting / offered / booked / expired / cancelled

    @property
    def wish(self) -> tuple[str, date, date]:
        """Where and between which days the person wants a place."""
        return self.service_point, self.first_day, self.last_day


@dataclass(frozen=True)
class Offer:
    """A freed place held for one waitlist entry until `expires_at` (both UTC)."""

    id: int
    waitlist_id: int
    chat_id: int
    nik: str
    service: str
    service_point: str
    start_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Batch:
    """One destruction of received cards, with how many cards it covered."""

    id: int
    destroyed_on: date
    method: str
    witnesses: str
    card_count: int


@dataclass(frozen=True)
class BackupStatus:
    """The nightly backup as /metrics and the alerts see it (times in UTC; None: never)."""

    last_success: datetime | None
    last_file: str | None  # the newest copy's file name
    last_size_bytes: int | None
    last_failure: datetime | None
    last_error: str | None  # the class of the last failure's error, e.g. "PermissionError"

    @property
    def failing(self) -> bool:
        """The latest run failed (no success since the last failure)."""
        if self.last_failure is None:
            return False
        return self.last_success is None or self.last_failure > self.last_success


@dataclass(frozen=True)
class JobHealth:
    """How a scheduled job last ended; `last_error` is an exception's class name."""

    job: str
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    failures: int


@dataclass(frozen=True)
class Incident:
    """Something the admins are alerted of: when it began and ended, and whom we told when."""

    id: int
    kind: str  # outbox, telegram, job, backup, disk
    subject: str  # the job's name for a job; empty otherwise
    detail: str  # a count or an error's class
    opened_at: datetime
    closed_at: datetime | None
    open_notified_at: datetime | None
    close_notified_at: datetime | None


@dataclass(frozen=True)
class KeptFlow:
    """One row of `conversations` as stored: a conversation's state, or an account's or a
    chat's flow data (`name` '@user' / '@chat'), its value sealed (bot/services/conversations)."""

    chat_id: int
    user_id: int
    name: str
    sealed: bytes
    expires_at: datetime


@dataclass(frozen=True)
class SendGrants:
    """The workers' sending budget (bot/services/send_budget.py), in seconds on the database
    server's clock: the next free moment, the grants not reported done (number -> moment
    granted), the moments recent sends were reported done, the last grant's number, until when
    a reply waiting for room holds the outbox back."""

    next_at: float
    open: dict[int, float]
    done: tuple[float, ...]
    last: int
    replies_waiting: float = 0.0
