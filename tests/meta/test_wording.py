"""Wording the walk-through of issue 16 found wrong, linted so that it stays fixed."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from bot.rendering import LOCALES, TEMPLATES_DIR, Renderer
from bot.services.status import Status
from tests.meta.test_templates import CYCLE, RESIDENT, SAMPLE, TICKET

TO_COME = date(2027, 1, 7)  # a 17th birthday still to come


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def _files_containing(locale: str, pattern: str) -> list[str]:
    root = TEMPLATES_DIR / locale
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and re.search(pattern, path.read_text(encoding="utf-8"), re.IGNORECASE)
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_the_card_is_called_e_ktp_everywhere(locale):
    assert _files_containing(locale, r"KTP-el") == []


def test_indonesian_staff_text_says_check_in_in_indonesian():
    assert _files_containing("id", r"check-in") == []
    text = Renderer().render("id", "staff/today.html", **SAMPLE)
    assert "Catat kedatangan: <code>/masuk KODE</code>" in text


@pytest.mark.parametrize("situation", ["turning_17", "not_yet"])
def test_a_teens_status_says_plainly_not_recorded_and_from_when(situation):
    status = Status(RESIDENT, situation, 16, TO_COME, CYCLE)
    text = _plain(Renderer().render("id", "citizen/status.html", s=status))
    assert "belum rekam e-KTP" in text
    assert "mulai tanggal itu wajib KTP" in text
    assert "sejak itu" not in text
    english = _plain(Renderer().render("en", "citizen/status.html", s=status))
    assert "e-KTP is not recorded yet" in english
    assert "from that day on" in english


def test_a_reminder_before_the_birthday_says_from_that_day():
    reminder = replace(SAMPLE["reminder"], turns_17_on=TO_COME)
    assert reminder.stage == "before"
    text = _plain(Renderer().render("id", "citizen/reminder_teen.html", reminder=reminder))
    assert "mulai tanggal itu Anda wajib KTP" in text
    assert "sejak itu" not in text


@pytest.mark.parametrize(("locale", "button"), [("id", "tombol di bawah"), ("en", "button below")])
def test_a_filed_report_offers_a_booked_visit_not_a_visit_without_queue(locale, button):
    text = Renderer().render(locale, "citizen/report_filed.html", **SAMPLE)
    assert "tanpa antre" not in text
    assert "without queueing" not in text
    assert button in text


@pytest.mark.parametrize(("locale", "said"), [("id", "tombol 📎"), ("en", "📎 button")])
def test_a_new_tickets_attachment_is_said_to_be_behind_its_button(locale, said):
    renderer = Renderer()
    text = renderer.render(locale, "staff/ticket_new.html", t=TICKET, resident=RESIDENT)
    assert said in text
    assert "dikirim di bawah" not in text
    assert "sent below" not in text
    assert renderer.label(locale, "ticket_file").startswith("📎")
    without = renderer.render(
        locale, "staff/ticket_new.html", t=replace(TICKET, file_id=None), resident=RESIDENT
    )
    assert "📎" not in without


@pytest.mark.parametrize(
    ("locale", "unreadable"),
    [("id", "format HH-BB-TTTT"), ("en", "as DD-MM-YYYY")],
)
def test_an_unreadable_broadcast_date_is_told_the_formats(locale, unreadable):
    renderer = Renderer()
    context = {"kind": "date", "today": date(2026, 11, 24), "max_days": 366}
    told = {
        problem: renderer.render(
            locale, "official/broadcast_error.html", problem=problem, **context
        )
        for problem in ("format", "calendar", "range")
    }
    assert len(set(told.values())) == 3  # each problem in its own words
    assert unreadable in told["format"]
    assert "24 November 2026" in told["format"]


@pytest.mark.parametrize("locale", LOCALES)
def test_the_welcome_names_booking_and_reporting_a_card(locale):
    """The two services people come for are in the first message they read."""
    text = (TEMPLATES_DIR / locale / "citizen" / "welcome.html").read_text(encoding="utf-8")
    assert "/antre" in text
    assert "/lapor" in text
