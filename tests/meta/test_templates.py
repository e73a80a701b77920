"""Every template exists in every locale and renders with a sample context."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.domain import Area, Booking, Drive, Incident, Resident, Ticket, TicketEvent
from bot.errors import InvalidNik
from bot.handlers.menus import CITIZEN_COMMANDS
from bot.rendering import LOCALES, TEMPLATES_DIR, Renderer
from bot.services.breakdown import PointWeek
from bot.services.broadcasts import Draft, Quota, Sent
from bot.services.broadcasts import Status as BroadcastStatus
from bot.services.cycle import Cycle
from bot.services.deactivation import Notice, Run
from bot.services.digest import Bookings, PointDigest, RegencyDigest, TeenRate
from bot.services.drive_admin import Summary as DriveSummary
from bot.services.drive_desk import DesaLine, DriveList, DriveOutcome
from bot.services.elsewhere import Person
from bot.services.figures import Figures, Reach, Scope
from bot.services.reminders import Reminder
from bot.services.roles import ROLE_COMMANDS
from bot.services.status import Status
from bot.services.trends import TeenTrend, Week
from bot.storage.broadcasts import Broadcast
from bot.storage.deactivation import DesaRow
from bot.storage.elsewhere import PlaceCount, Report
from bot.storage.service_points import ServicePoint
from bot.storage.users import RoleUser

RESIDENT = Resident(
    nik="3505104701090003",
    no_kk="3505100101090001",
    nama="Siti <Aminah> & Co",
    tanggal_lahir=date(2009, 1, 7),
    jenis_kelamin="P",
    status_kawin="BELUM KAWIN",
    kode_desa="3505102001",
    tanggal_rekam=date(2026, 2, 1),
    status_nik="AKTIF",
)
CYCLE = Cycle(date(2026, 12, 31), date(2027, 4, 30))
POINT = ServicePoint(
    "kanigoro", "Kantor Dispendukcapil", "office", "350510", "Kanigoro", -8.1, 112.2, 10, True
)
DRIVE = Drive(
    1,
    "DRV7PX",
    ServicePoint(
        "drv-drv7px",
        "Perekaman keliling SMAN 1 <Talun>",
        "kecamatan",
        "350514",
        "SMAN 1 Talun, Jl. Raya <Talun> 1",
        -8.09,
        112.31,
        5,
        False,
        "wed 08:00-12:00",
        open_day=date(2026, 11, 25),
    ),
    "kanigoro",
    "350514",
    "planned",
    None,
)
BOOKING = Booking(
    id=1,
    code="K7PX2M",
    chat_id=1001,
    nik=RESIDENT.nik,
    service="rekam",
    service_point="kanigoro",
    start_at=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
    day=date(2026, 11, 25),
    queue_number=3,
    state="pending",
    reason="<kartu> habis",
)
NOW_SAMPLE = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
TICKET = Ticket(
    id=1,
    number="KR-7PX2M",
    chat_id=1001,
    nik=RESIDENT.nik,
    kind="damaged",
    cause="other",
    description="retak <di> tengah",
    file_id="FILEID",
    file_type="photo",
    service_point="kanigoro",
    state="ready",
    reason="Foto <kabur>",
    ready_until=date(2026, 12, 24),
    created_at=NOW_SAMPLE,
    updated_at=NOW_SAMPLE,
)
SAMPLE = {
    "incident": Incident(
        1, "job", "daily-digest", "OperationalError", NOW_SAMPLE, NOW_SAMPLE, NOW_SAMPLE, None
    ),
    "over": True,
    "limits": SimpleNamespace(
        outbox_minutes=10, telegram_minutes=5, backup_hours=26, disk_percent=10, disk_gb=1
    ),
    "user": RoleUser(9001, "staff", "kanigoro", None),
    "accounts": [
        RoleUser(9001, "staff", "kanigoro", None),
        RoleUser(9002, "official", None, "3505"),
    ],
    "revocation": SimpleNamespace(role="official", outcome="claimed", claimed_by=9002),
    "telegram_id": 9001,
    "role": "admin",
    "s": Status(RESIDENT, "recorded", 17, date(2026, 1, 7), CYCLE),
    "reason": "length",
    "length": 15,
    "until": datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
    "household": True,
    "new": True,
    "points": [POINT],
    "places": {"kanigoro": POINT},
    "point": POINT,
    "drive": DRIVE,
    "drives": [DRIVE],
    "views": [],
    "today": date(2026, 11, 24),
    "command": "rekap",
    "b": BOOKING,
    "booking": BOOKING,
    "bookings": [BOOKING],
    "listed": [SimpleNamespace(number=2, booking=BOOKING, person=RESIDENT)],
    "moved": False,
    "shown": "🆕 <b>Antrean baru menunggu konfirmasi</b>\nKode <code>K7PX2M</code> · no. 3",
    "resident": RESIDENT,
    "age": 17,
    "min_age": 16,
    "from_day": date(2027, 3, 1),
    "recorded_on": date(2013, 3, 1),
    "service": "hilang",
    "start": BOOKING.start_at,
    "day": date(2026, 11, 25),
    "first": date(2026, 11, 25),
    "last": date(2026, 12, 8),
    "entries": [SimpleNamespace(booking=BOOKING, name="Siti <Aminah> & Co")],
    "offer": SimpleNamespace(start_at=BOOKING.start_at, expires_at=BOOKING.start_at),
    "kind": "full",
    "next_free": [SimpleNamespace(start_at=BOOKING.start_at, remaining=3)],
    "count": 3,
    "on": True,
    "code": "K7PX2M",
    "state": "confirmed",
    "max_length": 200,
    "max_days": 366,
    "cards": SimpleNamespace(
        per_cause={"peeling": 3, "lost": 1},
        per_kecamatan=[("Kanigoro", 4)],
        median_days_to_handover=2.5,
    ),
    "t": TICKET,
    "tickets": [(TICKET, [TicketEvent(NOW_SAMPLE, "reported", None, None)])],
    "cause": "other",
    "description": "retak <di> tengah",
    "attached": True,
    "lost": True,
    "done": True,
    "to": "verified",
    "number": "KR-7PX2M",
    "numbers": ["KR-7PX2M"],
    "max_mb": 10,
    "min_len": 3,
    "max_len": 200,
    "batch": SimpleNamespace(
        destroyed_on=date(2026, 11, 24), method="dibakar", witnesses="Budi", card_count=3
    ),
    "person": "Siti <Aminah>",
    "owner": RESIDENT,  # whose booking (a Resident, shortened: citizen/booking_cancel_confirm)
    "moving": BOOKING,  # the booking being moved (citizen/booking_summary)
    "reminder": Reminder(
        "teen",
        1001,
        RESIDENT.nik,
        RESIDENT.nama,
        date(2026, 12, 7),
        date(2026, 12, 7),
        turns_17_on=date(2026, 1, 7),
        deadline=CYCLE.deadline,
        deactivated_on=date(2026, 5, 2),
    ),
    "page": 1,
    "pages": 2,
    "register": SimpleNamespace(
        waiting=2,
        batches=[SimpleNamespace(destroyed_on=date(2026, 11, 24), method="x", card_count=3)],
        per_year={2026: 3},
    ),
}

# /rekap and /siaran (templates/*/official/)
_KANIGORO = Area("350510", "35.05.10", "kecamatan", "Kanigoro", "3505")
_FIGURES = Figures(
    Scope(_KANIGORO),
    CYCLE,
    date(2026, 10, 26),
    date(2026, 11, 24),
    residents=1000,
    wajib_ktp=700,
    unrecorded_wajib=Reach(10, 4),
    turning_17_recorded=Reach(5, 1),
    turning_17_unrecorded=Reach(20, 6),
    deactivated=Reach(3, 0),
    reactivated=1,
    linked=40,
    outreach=22,
    reminded=30,
    recorded=12,
    recorded_at_drives=4,
    bookings={"recorded": 9, "no_show": 2, "pending": 3},
    tickets={"reported": 1, "ready": 2},
)
_BROADCAST = Broadcast(7, 9002, "350510", "turning17", "mobile", {}, 120, NOW_SAMPLE, None)
SAMPLE.update(
    rekap=_FIGURES,
    f=_FIGURES,
    parts=[_FIGURES],  # charts/parts.html: the figures of each desa
    trend=TeenTrend(
        CYCLE, date(2026, 11, 24), 30, 12, [Week(date(2026, 5, 7), 10.0, None)]
    ),  # charts/teens.html
    per_point=[replace(_FIGURES, scope=Scope(_KANIGORO, POINT))],  # charts/points.html
    drawn=[POINT],
    monday=date(2026, 11, 30),  # admin/weekly_report.html
    weeks={
        POINT.code: [
            PointWeek(date(2026, 11, 11), date(2026, 11, 17), {"recorded": 3}, 0),
            PointWeek(date(2026, 11, 18), date(2026, 11, 24), {"recorded": 9, "no_show": 2}, 40),
        ]
    },
    rows=22,
    area=_KANIGORO,
    cycle=CYCLE,
    draft=Draft("free", "linked", text="Halo <Aminah> & warga, NIK 3505104701090003"),
    audience="unrecorded",
    template_kind="deadline",
    held_until=NOW_SAMPLE,
    quota=Quota(1, 3, NOW_SAMPLE),
    recent=[BroadcastStatus(_BROADCAST, {"sent": 100, "blocked": 5, "failed": 1, "queued": 14})],
    status=BroadcastStatus(_BROADCAST, {"sent": 100, "blocked": 5, "failed": 1}),
    sent=Sent(_BROADCAST, NOW_SAMPLE),
)

# mobile recording drives (staff's list, the summary after it, the invitation)
SAMPLE.update(
    listing=DriveList(DRIVE, [SimpleNamespace(booking=BOOKING, name="Siti <Aminah> & Co")], 48),
    drive_report=DriveOutcome(DRIVE, 48, 30, 25, 24, 3, [DesaLine("Minggirsari <x>", 30, 25, 24)]),
)

# the annual deactivation and the daily digest (deactivation samples)
_DESA = [DesaRow("350510", "Kanigoro", "3505102001", "Minggirsari <x>", 3)]
_RUN = Run(
    id=7,
    cycle=Cycle(date(2025, 12, 31), date(2026, 4, 30)),
    state="applied",
    desa=_DESA,
    total=3,
    previewed_at=NOW_SAMPLE,
    approved_by=9003,
    applied_at=NOW_SAMPLE,
    applied_count=3,
)
_DAY = Bookings({"recorded": 2, "handed_over": 1, "no_show": 1, "pending": 2, "cancelled": 1})
SAMPLE.update(
    run=_RUN,
    top_desa=_RUN.top_desa(),
    newly=False,
    notices=2,
    me=9003,
    notice=Notice(1001, RESIDENT.nik, RESIDENT.nama, _RUN.cycle),
    days_left=7,
    desks=[PointDigest(POINT, date(2026, 11, 20), _DAY, _DAY, tickets_open=2, tickets_ready=1)],
    d=RegencyDigest(
        date(2026, 11, 20), _DAY, _DAY, 3, {"reported": 1, "ready": 2}, TeenRate(2026, 40, 4), CYCLE
    ),
)

# residents reported living elsewhere (/domisili, reminders, /rekap, /deaktivasi)
_REPORT = Report(
    1, 1001, RESIDENT.nik, RESIDENT.nama, "abroad", "MY", date(2025, 6, 1), "work", NOW_SAMPLE
)
SAMPLE.update(
    people=[Person(RESIDENT, _REPORT), Person(RESIDENT, None)],
    who=Person(RESIDENT, _REPORT),
    nama=RESIDENT.nama,
    place="Kota <Surabaya>",
    place_kind="regency",
    since=date(2025, 6, 1),
    born=RESIDENT.tanggal_lahir,
    report=_REPORT,
    elsewhere=[PlaceCount("regency", "35.78", 2), PlaceCount("abroad", "MY", 1)],
)


# mobile recording drives (/keliling)
SAMPLE.update(
    booked={DRIVE.code: 3},
    more=2,
    areas={DRIVE.area_code: _KANIGORO},
    runners={DRIVE.run_by: POINT},
    field="day",
    changing=DRIVE,
    example=date(2026, 12, 1),
    plan=DriveSummary(
        "Perekaman <SMAN> 1",
        "Aula <SMAN>",
        date(2026, 12, 2),
        "08:00-12:00",
        10,
        _KANIGORO,
        POINT,
        -8.1,
        112.3,
    ),
    link="https://t.me/dukcapil_bot?start=drv_K7PX2M",
    value=date(2026, 11, 27),
    affected=2,
)


def _names(locale: str) -> set[str]:
    root = TEMPLATES_DIR / locale
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_every_template_exists_in_every_locale():
    assert _names("id") == _names("en")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(_names("id") - {"labels.j2"}))
def test_template_renders(locale, name):
    text = Renderer().render(locale, name, **SAMPLE)
    assert text
    assert "<Aminah>" not in text  # names are escaped


@pytest.mark.parametrize("locale", LOCALES)
def test_status_never_shows_full_nik(locale):
    for situation in ("deactivated", "recorded", "unrecorded", "turning_17", "not_yet"):
        status = Status(RESIDENT, situation, 17, date(2026, 1, 7), CYCLE)
        text = Renderer().render(locale, "citizen/status.html", s=status)
        assert RESIDENT.nik not in text
        assert "3505********0003" in text


@pytest.mark.parametrize("locale", LOCALES)
def test_every_command_has_a_menu_description(locale):
    renderer = Renderer()
    for name in [*CITIZEN_COMMANDS, *ROLE_COMMANDS]:
        assert 3 <= len(renderer.label(locale, f"cmd_{name}")) <= 256


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "reason", ["not_digits", "length", "province", "kecamatan", "day", "month", "date", "serial"]
)
def test_each_invalid_nik_reason_has_its_own_words(locale, reason):
    renderer = Renderer()
    generic = renderer.render(locale, InvalidNik.template, reason="?", length=0)
    assert renderer.render(locale, InvalidNik.template, reason=reason, length=15) != generic


def test_dates_are_indonesian():
    text = Renderer().render(
        "id", "staff/today.html", point=POINT, today=date(2025, 5, 14), entries=[], page=1, pages=1
    )
    assert "Rabu, 14 Mei 2025" in text


def test_templates_dir_is_in_repo():
    assert Path(TEMPLATES_DIR).is_dir()


@pytest.mark.parametrize("locale", LOCALES)
def test_typed_reasons_never_show_a_full_nik(locale):
    booking = replace(BOOKING, state="rejected", reason=f"NIK {RESIDENT.nik} tidak cocok")
    text = Renderer().render(
        locale, "citizen/booking_state.html", b=booking, point=POINT, person="Siti"
    )
    assert RESIDENT.nik not in text
    assert "3505********0003" in text


def _content_lines_losing_their_break(path: Path) -> list[int]:
    """Lines with visible text that end in a block tag: trim_blocks would eat their newline."""
    lines = path.read_text(encoding="utf-8").split("\n")
    last = len(lines) - 2 if lines[-1] == "" else len(lines) - 1
    losing = []
    for number, line in enumerate(lines[:last], start=1):
        text = line.rstrip()
        if not text.endswith("%}") or text.endswith(("+%}", "-%}")):
            continue
        if re.sub(r"\{%.*?%\}", "", text).strip() and not text.lstrip().startswith("{% set"):
            losing.append(number)
    return losing


def test_a_line_of_text_ending_in_a_tag_keeps_its_line_break():
    """`Layanan: {% include ... %}` needs `+%}`, or the next line is glued on ('NIKNama:')."""
    root = Path(__file__).resolve().parents[2] / "templates"
    glued = {
        str(path.relative_to(root)): lines
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "labels.j2"
        if (lines := _content_lines_losing_their_break(path))
    }
    assert glued == {}
    summary = Renderer().render("id", "citizen/booking_summary.html", **SAMPLE)
    assert "\nNama: " in summary


@pytest.mark.parametrize("locale", LOCALES)
def test_a_nik_typed_as_a_drives_place_is_masked_in_its_invitation(locale):
    place = "Balai desa, hub. 3505104701090003"
    draft = Draft("mobile", "linked", replace(DRIVE, point=replace(DRIVE.point, address=place)))
    text = Renderer().render(
        locale, "official/broadcast_message.html", **{**SAMPLE, "draft": draft}
    )
    assert "3505104701090003" not in text
    assert "3505********0003" in text


def test_a_second_renderer_renders_an_edited_template_anew(tmp_path):
    """The compiled templates are shared by the process's Renderers (bot.rendering.COMPILED):
    one made after a template changed on disk renders the new text, never the old code."""
    (tmp_path / "id").mkdir()
    page = tmp_path / "id" / "page.html"
    page.write_text("Selamat {{ who }}", encoding="utf-8")
    assert Renderer(tmp_path).render("id", "page.html", who="pagi") == "Selamat pagi"
    assert Renderer(tmp_path).render("id", "page.html", who="siang") == "Selamat siang"
    page.write_text("Sampai jumpa {{ who }}", encoding="utf-8")
    assert Renderer(tmp_path).render("id", "page.html", who="lagi") == "Sampai jumpa lagi"
