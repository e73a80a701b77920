"""The broadcast service (on both engines), /rekap's counts and outreach list, and the
delivery-report planner."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.db import transaction, vault_of
from bot.domain import RoleUser
from bot.errors import NotAuthorized
from bot.jobs.broadcasts import plan_broadcast_reports
from bot.nik import make_nik
from bot.rendering import Renderer
from bot.services import broadcasts, drives, outbox, summaries
from bot.services.broadcasts import Draft
from bot.services.importer import import_residents
from bot.storage import audit, chats, links
from bot.storage import outbox as outbox_store
from bot.storage.service_points import seed_service_points
from tests.conftest import NOW, PEOPLE, Person, write_population
from tests.village import (
    EVERYONE,
    EXTRA,
    KANIGORO_2,
    OFFICIAL_AUDIENCES,
    OUTREACH,
    REGENCY_LINKED,
    plant,
)

OFFICIAL = RoleUser(9002, "official", None, "350510")
OTHER_OFFICIAL = RoleUser(9004, "official", None, "350503")
ADMIN = RoleUser(9003, "admin", None, None)
STAFF = RoleUser(9001, "staff", "kanigoro", None)
TODAY = date(2026, 11, 24)
TEXTS = {"id": "<b>Halo</b> warga", "en": "<b>Hello</b> residents"}
STATUS_NAMES = {"deactivated": "NIK nonaktif", "turning17": "17 tahun", "unrecorded": "belum rekam"}


@pytest.fixture
async def village(engine_areas, tmp_path):
    """The village on each engine in turn (the broadcasts run on both)."""
    await plant(engine_areas, tmp_path)
    return engine_areas


async def _send(db, user=OFFICIAL, audience="linked", *, now=NOW, template="invitation", **extra):
    draft = Draft(template, audience, **extra)
    return await broadcasts.send(db, user, draft, TEXTS, default_locale="id", now=now)


async def _messages(db, broadcast_id):
    rows = await db.execute_fetchall(
        "SELECT chat_id, kind, text, state, not_before FROM outbox"
        " WHERE idempotency_key LIKE ? ORDER BY chat_id",
        (f"broadcast:{broadcast_id}:%",),
    )
    vault = vault_of(db)
    return [
        (chat, kind, vault.open(text, "outbox.text", chat), *rest)
        for chat, kind, text, *rest in rows
    ]


@pytest.mark.parametrize("audience", sorted(OFFICIAL_AUDIENCES))
async def test_an_official_reaches_exactly_the_linked_chats_of_their_area(village, audience):
    expected = OFFICIAL_AUDIENCES[audience]
    assert await broadcasts.count_recipients(village, OFFICIAL, audience, today=TODAY) == len(
        expected
    )
    sent = await _send(village, audience=audience)
    messages = await _messages(village, sent.broadcast.id)
    assert {m[0] for m in messages} == expected  # none outside, none off, none blocked
    assert len(messages) == len(expected)  # one per chat, even for a chat linked twice
    assert {m[1] for m in messages} == {"broadcast"}
    assert sent.broadcast.recipients == len(expected)
    assert (sent.broadcast.area_code, sent.broadcast.audience) == ("350510", audience)


async def test_an_admin_reaches_the_whole_regency(village):
    sent = await _send(village, ADMIN)
    assert {m[0] for m in await _messages(village, sent.broadcast.id)} == REGENCY_LINKED
    assert sent.broadcast.area_code == "3505"


@pytest.mark.parametrize("audience", sorted(OFFICIAL_AUDIENCES))
async def test_the_regency_is_the_union_of_its_kecamatan(village, audience):
    """The regency's query reads links first, a kecamatan's reads residents: same answers."""
    recipients = {}
    for user in (ADMIN, OFFICIAL, OTHER_OFFICIAL):
        try:
            sent = await _send(village, user, audience)
        except broadcasts.NoRecipients:
            recipients[user.telegram_id] = set()
            continue
        recipients[user.telegram_id] = {m[0] for m in await _messages(village, sent.broadcast.id)}
    kecamatan = recipients[OFFICIAL.telegram_id] | recipients[OTHER_OFFICIAL.telegram_id]
    assert recipients[ADMIN.telegram_id] == kecamatan


# Unmarried, unrecorded residents of Jatinom born around the day bounds of 24 Nov 2026: 17 on
# or before today (adult: born by 24 Nov 2009), turning 17 this cycle (born in 2009).
BOUNDS = {
    201: (date(2008, 12, 31), {"unrecorded"}),
    202: (date(2009, 1, 1), {"unrecorded", "turning17"}),
    203: (date(2009, 11, 24), {"unrecorded", "turning17"}),
    204: (date(2009, 11, 25), {"turning17"}),
    205: (date(2009, 12, 31), {"turning17"}),
    206: (date(2010, 1, 1), set()),
}


def _unmarried(chat, born):
    """An unmarried, unrecorded resident of Jatinom, linked (below) to chat `chat`."""
    nik = make_nik("350510", born, "L", chat - 200)
    kk = f"350510070809{chat:04d}"
    return Person(nik, kk, f"Warga {chat}", born, "L", "BELUM KAWIN", KANIGORO_2, "", "AKTIF")


@pytest.mark.parametrize("audience", ["unrecorded", "turning17"])
async def test_birth_day_bounds_decide_an_audience_to_the_day(engine_areas, tmp_path, audience):
    """PostgreSQL selects the birth years in SQL and decides the boundary years' residents in
    Python once their date is opened: the same chats as SQLite's SQL, to the day."""
    db = engine_areas
    people = {chat: _unmarried(chat, born) for chat, (born, _) in BOUNDS.items()}
    csv_path = write_population(tmp_path / "bounds.csv", people.values())
    assert (await import_residents(db, csv_path, now=NOW)).rejected == []
    async with transaction(db):
        for chat, person in people.items():
            await chats.set_locale(db, chat, "id", now=NOW)
            await links.insert_link(db, chat, "nik", person.nik, now=NOW)
    expected = {chat for chat, (_, audiences) in BOUNDS.items() if audience in audiences}
    assert await broadcasts.count_recipients(db, ADMIN, audience, today=TODAY) == len(expected)
    sent = await _send(db, ADMIN, audience)
    assert {m[0] for m in await _messages(db, sent.broadcast.id)} == expected


async def test_a_desa_official_reaches_only_their_desa(village):
    jatinom = RoleUser(9005, "official", None, "3505102002")
    sent = await _send(village, jatinom)
    assert {m[0] for m in await _messages(village, sent.broadcast.id)} == {104, 108}


async def test_another_kecamatan_reaches_only_its_own(village):
    sent = await _send(village, OTHER_OFFICIAL)
    assert {m[0] for m in await _messages(village, sent.broadcast.id)} == {105, 106}


async def test_staff_cannot_broadcast(village):
    with pytest.raises(NotAuthorized):
        await _send(village, STAFF)


async def test_each_chat_gets_its_own_language(village):
    sent = await _send(village, audience="linked")
    texts = {m[0]: m[2] for m in await _messages(village, sent.broadcast.id)}
    assert texts == {101: TEXTS["id"], 102: TEXTS["id"], 104: TEXTS["en"], 108: TEXTS["id"]}


async def test_the_broadcast_row_keeps_author_template_and_parameters(village):
    drive = await _jatinom_drive(village)
    sent = await _send(village, template="mobile", drive=drive)
    b = sent.broadcast
    assert (b.author_id, b.template, b.created_at) == (OFFICIAL.telegram_id, "mobile", NOW)
    assert b.parameters == {"drive": drive.code}
    assert sent.held_until is None


# --- invitations to a mobile recording drive ---

DRIVE_DAY = date(2026, 11, 26)
MARKUPS = {"id": '{"inline_keyboard": [[{"text": "Pesan", "url": "https://t.me/b?start=drv_X"}]]}'}
MARKUPS["en"] = MARKUPS["id"].replace("Pesan", "Book")


async def _jatinom_drive(db, *, area="3505102002", day=DRIVE_DAY):
    """A drive at Jatinom's village hall (a desa of the official's kecamatan)."""
    await seed_service_points(db)
    return await drives.create_drive(
        db,
        admin=None,
        name="Perekaman keliling Jatinom",
        place="Balai Desa Jatinom",
        day=day,
        hours="08:00-11:00",
        capacity=5,
        area=area,
        service_point="kanigoro",
        now=NOW,
    )


async def test_an_official_picks_among_the_drives_of_their_area(village):
    drive = await _jatinom_drive(village)
    assert await broadcasts.drives_to_announce(village, OFFICIAL, today=TODAY) == [drive]
    assert await broadcasts.drives_to_announce(village, ADMIN, today=TODAY) == [drive]
    jatinom = RoleUser(9005, "official", None, "3505102002")
    assert await broadcasts.drives_to_announce(village, jatinom, today=TODAY) == [drive]
    minggirsari = RoleUser(9006, "official", None, "3505102001")
    assert await broadcasts.drives_to_announce(village, minggirsari, today=TODAY) == []
    assert await broadcasts.drives_to_announce(village, OTHER_OFFICIAL, today=TODAY) == []
    after = DRIVE_DAY.replace(day=27)
    assert await broadcasts.drives_to_announce(village, OFFICIAL, today=after) == []


async def test_an_invitation_reaches_only_where_the_drive_serves_with_its_button(village):
    drive = await _jatinom_drive(village)
    preview = await broadcasts.preview(village, OFFICIAL, "linked", now=NOW, drive=drive)
    assert (preview.count, preview.area.code) == (2, "3505102002")
    draft = Draft("mobile", "linked", drive=drive)
    sent = await broadcasts.send(
        village, OFFICIAL, draft, TEXTS, default_locale="id", now=NOW, markups=MARKUPS
    )
    assert sent.broadcast.area_code == "3505102002"
    rows = await village.execute_fetchall(
        "SELECT chat_id, reply_markup FROM outbox WHERE idempotency_key LIKE 'broadcast:%'"
        " ORDER BY chat_id"
    )
    assert [tuple(row) for row in rows] == [(104, MARKUPS["en"]), (108, MARKUPS["id"])]


@pytest.mark.parametrize("case", ["other area", "cancelled", "over", "unknown"])
async def test_a_drive_the_author_may_not_announce_is_refused_and_audited(village, case):
    drive = await _jatinom_drive(village)
    user, code, now = OFFICIAL, drive.code, NOW
    if case == "other area":
        user = OTHER_OFFICIAL
    elif case == "cancelled":
        await drives.cancel_drive(village, drive.code, admin=None, now=NOW)
    elif case == "over":
        now = NOW + timedelta(days=3)
    else:
        code = "ZZZZZZ"
    with pytest.raises(broadcasts.DriveNotOffered):
        await broadcasts.drive_to_announce(village, user, code, now=now)
    records = await audit.list_audit(village, since=NOW)
    assert (now.isoformat(), user.telegram_id, "broadcast:drive", f"refused drive={code}") in (
        records
    )
    if case in ("other area", "unknown"):  # the drive itself is fine for its area's official
        assert await broadcasts.drive_to_announce(village, OFFICIAL, drive.code, now=NOW) == drive


async def test_the_broadcast_is_audited(village):
    sent = await _send(village)
    records = await audit.list_audit(village, since=NOW)
    detail = f"id={sent.broadcast.id} area=350510 audience=linked template=invitation recipients=4"
    assert (NOW.isoformat(), OFFICIAL.telegram_id, "broadcast", detail) in records


async def test_no_recipients_creates_nothing(engine_areas, tmp_path):
    db = engine_areas
    await plant(db, tmp_path, with_chats=False)
    with pytest.raises(broadcasts.NoRecipients):
        await _send(db)
    async with db.execute(
        "SELECT (SELECT count(*) FROM broadcasts), (SELECT count(*) FROM outbox)"
    ) as cur:
        assert tuple(await cur.fetchone()) == (0, 0)


async def test_the_fourth_broadcast_of_the_day_is_refused_until_midnight_wib(village):
    for minutes in range(3):
        await _send(village, now=NOW + timedelta(minutes=minutes))
    with pytest.raises(broadcasts.LimitReached) as refused:
        await _send(village, now=NOW + timedelta(hours=1))
    midnight = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 00:00 WIB on the 25th
    assert refused.value.context["until"] == midnight
    assert (await broadcasts.quota(village, OFFICIAL, now=NOW)).left == 0
    async with village.execute("SELECT count(*) FROM broadcasts") as cursor:
        assert (await cursor.fetchone())[0] == 3
    assert (await _send(village, now=midnight)).broadcast.id == 4  # a new WIB day


async def test_the_wib_day_not_the_utc_day_counts(village):
    late = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 23:30 WIB; 25 Nov starts at 17:00 UTC
    for minutes in range(3):
        await _send(village, now=late + timedelta(minutes=minutes))
    assert (await broadcasts.quota(village, OFFICIAL, now=late + timedelta(hours=1))).used == 0


async def test_admins_are_not_limited(village):
    for minutes in range(5):
        await _send(village, ADMIN, now=NOW + timedelta(minutes=minutes))
    quota = await broadcasts.quota(village, ADMIN, now=NOW)
    assert (quota.used, quota.limit, quota.left) == (5, None, None)


async def test_quiet_hours_hold_the_broadcast_until_morning(village):
    evening = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 21:00 WIB
    sent = await _send(village, now=evening)
    morning = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 WIB
    assert sent.held_until == morning
    not_before = {m[4] for m in await _messages(village, sent.broadcast.id)}
    assert not_before == {outbox_store.ts(morning)}


async def test_the_preview_counts_the_area_and_says_when_quiet_hours_hold_it(village):
    day = await broadcasts.preview(village, OFFICIAL, "linked", now=NOW)  # 10:00 WIB
    assert day.count == len(OFFICIAL_AUDIENCES["linked"])
    assert day.area.code == "350510"
    assert day.held_until is None
    evening = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 21:00 WIB
    night = await broadcasts.preview(village, OFFICIAL, "linked", now=evening)
    assert night.held_until == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 WIB
    unheld = await broadcasts.preview(village, OFFICIAL, "linked", now=evening, quiet=None)
    assert unheld.held_until is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("24-11-2026", date(2026, 11, 24)),
        ("1/12/2026", date(2026, 12, 1)),
        (" 05.01.2027 ", date(2027, 1, 5)),
        ("15 02 2027", date(2027, 2, 15)),
    ],
)
def test_mobile_day_accepts_today_or_later(typed, expected):
    assert broadcasts.parse_day(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("15 Desember 2026", date(2026, 12, 15)),
        ("15 Des 2026", date(2026, 12, 15)),
        ("15 des. 2026", date(2026, 12, 15)),
        ("1 Mei 2027", date(2027, 5, 1)),
        ("5-Agu-2027", date(2027, 8, 5)),
        ("17 Agt 2027", date(2027, 8, 17)),
        ("30 Nopember 2026", date(2026, 11, 30)),
        ("15 December, 2026", date(2026, 12, 15)),
        ("3 Sept 2027", date(2027, 9, 3)),
        ("24 okt 2027", date(2027, 10, 24)),
    ],
)
def test_mobile_day_accepts_indonesian_and_english_month_names(typed, expected):
    assert broadcasts.parse_day(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("23-11-2026", "range"),
        ("01-01-2028", "range"),
        ("23 November 2026", "range"),
        ("31-02-2027", "calendar"),
        ("30 Februari 2027", "calendar"),
        ("besok", "format"),
        ("2026-12-01", "format"),
        ("1-12-26", "format"),
        ("", "format"),
        ("15 Ju 2027", "format"),  # June or July?
        ("15 Desemberan 2026", "format"),
    ],
)
def test_mobile_day_refuses_past_impossible_or_unreadable_dates(typed, problem):
    with pytest.raises(broadcasts.InvalidDay) as refused:
        broadcasts.parse_day(typed, today=TODAY)
    assert refused.value.context["problem"] == problem


def test_free_text_is_limited_to_a_thousand_characters():
    assert broadcasts.check_text("x" * 1000) == "x" * 1000
    with pytest.raises(broadcasts.TextTooLong) as refused:
        broadcasts.check_text("x" * 1001)
    assert refused.value.context == {"kind": "text", "max_length": 1000, "length": 1001}
    with pytest.raises(broadcasts.TextTooLong):
        broadcasts.check_text("   ")


# --- delivery report ---


async def _finish(db, broadcast_id, outcomes):
    """Let the sender's bookkeeping close each message as `outcomes[chat_id]`."""
    claimed = await outbox.claim_due(db, now=NOW, limit=100)
    for message in claimed:
        if not message.key.startswith(f"broadcast:{broadcast_id}:"):
            continue
        state = outcomes.get(message.chat_id)
        if state == "sent":
            await outbox.mark_sent(db, message.id, 1, NOW)
        elif state == "blocked":
            await outbox.mark_blocked(db, message.id, message.chat_id, NOW)
        elif state == "failed":
            await outbox.mark_failed(db, message.id, "Bad Request: chat not found", NOW)
        else:
            await outbox_store.requeue_sending(db)


async def _report(db, broadcast_id):
    return await outbox_store.get_message_by_key(db, f"broadcast-report:{broadcast_id}")


async def test_the_report_waits_until_every_message_is_final(village):
    sent = await _send(village)
    renderer = Renderer()
    await _finish(village, sent.broadcast.id, {101: "sent", 102: "sent", 104: "blocked"})
    assert await plan_broadcast_reports(village, renderer, default_locale="id", now=NOW) == 0
    assert await _report(village, sent.broadcast.id) is None  # 108 is still queued


async def test_the_report_counts_sent_blocked_failed_once(village):
    sent = await _send(village)
    outcomes = {101: "sent", 102: "sent", 104: "blocked", 108: "failed"}
    await _finish(village, sent.broadcast.id, outcomes)
    renderer = Renderer()
    assert await plan_broadcast_reports(village, renderer, default_locale="id", now=NOW) == 1
    report = await _report(village, sent.broadcast.id)
    assert report is not None
    assert (report.chat_id, report.kind, report.state) == (OFFICIAL.telegram_id, "staff", "queued")
    assert "Terkirim: <b>2</b>" in report.text
    assert "Diblokir (warga memblokir bot): 1" in report.text
    assert "Gagal: 1" in report.text
    assert "Penerima: 4 chat" in report.text
    assert await plan_broadcast_reports(village, renderer, default_locale="id", now=NOW) == 0
    status = (await broadcasts.recent(village, OFFICIAL))[0]
    assert status.broadcast.reported_at == NOW
    assert (status.counts["sent"], status.counts["blocked"], status.counts["failed"]) == (2, 1, 1)


async def test_the_report_is_in_the_authors_language(village):
    async with transaction(village):
        await chats.set_locale(village, OFFICIAL.telegram_id, "en", now=NOW)
    sent = await _send(village, audience="deactivated")
    await _finish(village, sent.broadcast.id, {104: "sent"})
    await plan_broadcast_reports(village, Renderer(), default_locale="id", now=NOW)
    report = await _report(village, sent.broadcast.id)
    assert "Delivery report for broadcast" in report.text
    assert "Sent: <b>1</b>" in report.text


# --- /rekap ---


async def test_rekap_counts_each_group_and_who_the_bot_can_reach(village):
    rekap = await summaries.rekap(village, OFFICIAL, today=TODAY)
    g = rekap
    assert rekap.scope.area.name == "Kanigoro"
    assert g.residents == 4 + 6  # the Santoso family and six residents of Jatinom
    assert (g.unrecorded_wajib.total, g.unrecorded_wajib.linked) == (3, 1)  # Wati; Siti, Lia
    assert (g.turning_17_unrecorded.total, g.turning_17_unrecorded.linked) == (2, 1)  # Dewi, Lia
    assert (g.turning_17_recorded.total, g.turning_17_recorded.linked) == (1, 0)  # Tono: blocked
    assert (g.deactivated.total, g.deactivated.linked) == (2, 1)  # Joko, Bayu
    assert g.outreach == 3  # Siti, Lia, Bayu
    assert rekap.teen_year == 2026


async def test_admin_rekap_is_the_regency(village):
    rekap = await summaries.rekap(village, ADMIN, today=TODAY)
    assert rekap.residents == len(EVERYONE)
    # Rudi and Ani (Talun) are reachable; the outsider is not
    assert rekap.outreach == 4


async def _csv(db, user=OFFICIAL):
    listing = await summaries.outreach_list(
        db, user, status_names=STATUS_NAMES, today=TODAY, now=NOW
    )
    rows = list(csv.reader(io.StringIO(listing.content.getvalue().decode("utf-8"))))
    return listing, rows


async def test_outreach_csv_lists_only_unreachable_residents_of_the_area_without_niks(
    village,
):
    listing, rows = await _csv(village)
    assert listing.filename == "outreach-350510-2026-11-24.csv"
    assert rows[0] == [
        "nama", "tanggal_lahir", "status", "desa", "rw", "rt", "alamat", "keluarga",
        "anggota_keluarga",
    ]  # fmt: skip
    expected = sorted(
        [_row(key, status) for key, status in OUTREACH.items() if status],
        key=lambda r: r[0].lstrip("'="),
    )
    assert sorted(rows[1:], key=lambda r: r[0].lstrip("'=")) == expected
    assert listing.rows == 3
    content = listing.content.getvalue().decode()
    for person in EVERYONE.values():
        assert person.nik not in content
        assert person.kk not in content
    assert EXTRA["outsider"].nama not in content
    assert PEOPLE["turning17"].nama not in content  # Dewi is reachable


def _row(key, status):
    person = EXTRA[key]
    nama = "'" + person.nama if person.nama.startswith("=") else person.nama
    family = "1"  # Siti, Bayu and Lia share one KK, the list's first family
    others = sorted(EXTRA[k].nama for k in ("siti", "bayu", "teen2") if k != key)
    members = "; ".join(others)
    members = "'" + members if members.startswith("=") else members
    born = person.born.isoformat()
    return [nama, born, STATUS_NAMES[status], "Jatinom", "", "", "", family, members]


async def test_outreach_export_is_audited_without_niks(village):
    await _csv(village)
    records = await audit.list_audit(village, since=NOW)
    assert (
        NOW.isoformat(),
        OFFICIAL.telegram_id,
        "rekap:outreach-csv",
        "area=350510 rows=3",
    ) in records


async def test_staff_have_no_outreach_list(village):
    with pytest.raises(NotAuthorized):
        await _csv(village, STAFF)
