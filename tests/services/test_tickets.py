"""Damaged and lost card tickets: reports, attachments, every transition and refusal, statistics,
on both engines."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.db import vault_of
from bot.domain import RoleUser
from bot.engine import IntegrityError
from bot.errors import InvalidReason, NotStaff, WrongServicePoint
from bot.services import tickets
from bot.services.destruction import destruction_summary
from bot.services.ticket_stats import ticket_statistics
from bot.services.tickets import (
    Attachment,
    InvalidAttachment,
    InvalidDescription,
    MissingPoliceReport,
    NoPrintingHere,
    TicketAlreadyOpen,
    TicketNotChangeable,
    TicketNotFound,
)
from bot.storage.areas import sync_areas
from tests.conftest import NOW, PEOPLE
from tests.desk import ADMIN, CHAT, KANIGORO, OFFICIAL, WLINGI, desk

__all__ = ["desk"]  # the fixture


@pytest.fixture
async def db(engine_db):
    """The desk's database: each engine in turn, with the Kemendagri areas loaded."""
    await sync_areas(engine_db)
    return engine_db


OTHER_CHAT = CHAT + 1
MB = 1024 * 1024
PHOTO = Attachment("photo-file-id", "photo", None, 2 * MB)
PDF = Attachment("pdf-file-id", "document", "application/pdf", 300_000)
NUMBER = re.compile(r"^K[RH]-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$")


async def report_damaged(db, who="recorded", *, cause="peeling", chat=CHAT, now=NOW, **extra):
    """A damaged-card report by `who` at Kanigoro."""
    values = {"description": None, "attachment": PHOTO, "point_code": "kanigoro", **extra}
    return await tickets.report(
        db, chat_id=chat, nik=PEOPLE[who].nik, kind="damaged", cause=cause, now=now, **values
    )


async def report_lost(db, who="mother", *, attachment=PDF, chat=CHAT, now=NOW):
    """A lost-card report by `who` at Kanigoro."""
    return await tickets.report(
        db,
        chat_id=chat,
        nik=PEOPLE[who].nik,
        kind="lost",
        cause="lost",
        description=None,
        attachment=attachment,
        point_code="kanigoro",
        now=now,
    )


STEPS = {
    "verified": tickets.verify,
    "printed": tickets.mark_printed,
    "ready": tickets.mark_ready,
    "handed_over": tickets.hand_over,
}
PATH = ("verified", "printed", "ready", "handed_over")


async def advance(db, ticket, to, *, staff=KANIGORO, now=NOW):
    """Walk the ticket along the happy path up to and including state `to`."""
    for state in PATH[: PATH.index(to) + 1]:
        ticket = await STEPS[state](db, ticket.id, staff=staff, now=now)
    return ticket


async def handed_over(db, who, *, kind="damaged", now=NOW):
    """A ticket of `who` taken all the way to hand-over."""
    ticket = await (report_damaged(db, who, now=now) if kind == "damaged" else report_lost(db, who))
    return await advance(db, ticket, "handed_over", now=now)


async def _count(db, table):
    async with db.execute(f"SELECT count(*) FROM {table}") as cursor:
        (n,) = await cursor.fetchone()
    return n


async def _audit_rows(db, action=None):
    query = "SELECT actor_id, action, detail FROM audit_log WHERE action LIKE 'tickets:%'"
    async with db.execute(query + " ORDER BY id") as cursor:
        rows = [tuple(row) async for row in cursor]
    return [r for r in rows if action is None or r[1] == f"tickets:{action}"]


def _no_full_nik(rows) -> bool:
    return not any(person.nik in str(row) for row in rows for person in PEOPLE.values())


# --- reporting ---


async def test_damaged_report_opens_a_reported_ticket_with_its_first_event(desk):
    ticket = await report_damaged(desk)
    assert NUMBER.match(ticket.number)
    assert ticket.number.startswith("KR-")
    assert (ticket.kind, ticket.cause, ticket.state) == ("damaged", "peeling", "reported")
    assert (ticket.file_id, ticket.file_type) == ("photo-file-id", "photo")
    assert (ticket.chat_id, ticket.nik, ticket.service_point) == (
        CHAT,
        PEOPLE["recorded"].nik,
        "kanigoro",
    )
    assert ticket.created_at == NOW
    _, events = await tickets.ticket_for_chat(desk, ticket.number, CHAT)
    assert [(e.state, e.actor_id, e.at) for e in events] == [("reported", None, NOW)]


async def test_damaged_report_photo_is_optional(desk):
    ticket = await report_damaged(desk, cause="chip", attachment=None)
    assert (ticket.file_id, ticket.file_type, ticket.cause) == (None, None, "chip")


async def test_lost_report_with_police_letter(desk):
    ticket = await report_lost(desk)
    assert ticket.number.startswith("KH-")
    assert (ticket.kind, ticket.cause, ticket.file_type) == ("lost", "lost", "document")


async def test_lost_report_cause_is_always_lost(desk):
    ticket = await tickets.report(
        desk,
        chat_id=CHAT,
        nik=PEOPLE["mother"].nik,
        kind="lost",
        cause=None,
        description=None,
        attachment=PHOTO,
        point_code="tla-wlingi",
        now=NOW,
    )
    assert (ticket.cause, ticket.service_point) == ("lost", "tla-wlingi")


async def test_lost_report_without_police_letter_is_refused(desk):
    with pytest.raises(MissingPoliceReport) as caught:
        await report_lost(desk, attachment=None)
    assert caught.value.context == {"kind": "police_report"}
    assert caught.value.template == "citizen/ticket_error.html"
    assert await _count(desk, "tickets") == 0


@pytest.mark.parametrize(
    ("attachment", "kind"),
    [
        (Attachment("v", "video", "video/mp4", 30 * MB), "file_type"),
        (Attachment("v", "document", "video/mp4", 30 * MB), "file_type"),
        (
            Attachment(
                "d",
                "document",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                40_000,
            ),
            "file_type",
        ),
        (Attachment("d", "document", None, 40_000), "file_type"),
        (Attachment("s", "document", "image/svg+xml", 2_000), "file_type"),
        (Attachment("g", "document", "image/gif", 2_000), "file_type"),
        (Attachment("p", "document", "application/pdf", 10 * MB + 1), "file_size"),
        (Attachment("p", "photo", None, 10 * MB + 1), "file_size"),
    ],
    ids=[
        "video",
        "video-as-document",
        "docx",
        "no-mime",
        "svg",
        "gif",
        "pdf-10mb+1",
        "photo-10mb+1",
    ],
)
async def test_bad_attachments_are_refused_and_nothing_is_stored(desk, attachment, kind):
    with pytest.raises(InvalidAttachment) as caught:
        await report_lost(desk, attachment=attachment)
    assert caught.value.context == {"kind": kind, "max_mb": 10}
    with pytest.raises(InvalidAttachment):
        await report_damaged(desk, attachment=attachment)
    assert await _count(desk, "tickets") == 0


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment("p", "document", "application/pdf", 10 * MB),
        Attachment("j", "document", "IMAGE/JPEG", 1_000),
        Attachment("h", "document", "image/heic", None),
        Attachment("f", "photo", None, None),
    ],
    ids=["pdf-10mb", "jpeg-document", "heic-no-size", "photo"],
)
def test_images_and_pdfs_up_to_10_mb_are_accepted(attachment):
    tickets.check_attachment(attachment)


@pytest.mark.parametrize("text", [None, "", "   ", "ab", "x" * 201])
async def test_other_cause_needs_a_description(desk, text):
    with pytest.raises(InvalidDescription) as caught:
        await report_damaged(desk, cause="other", description=text)
    assert caught.value.context == {"kind": "description", "min_len": 3, "max_len": 200}
    assert await _count(desk, "tickets") == 0


async def test_description_is_trimmed(desk):
    ticket = await report_damaged(desk, cause="other", description="  kartu   terbakar \n")
    assert ticket.description == "kartu terbakar"


@pytest.mark.parametrize("point", ["kec-wonodadi", "nowhere"])
async def test_replacement_only_at_printing_points(desk, point):
    with pytest.raises(NoPrintingHere) as caught:
        await report_damaged(desk, point_code=point)
    assert caught.value.context == {"kind": "no_printing", "point_code": point}
    assert await _count(desk, "tickets") == 0


async def test_unknown_kind_or_cause_is_a_programming_error(desk):
    with pytest.raises(ValueError, match="kind"):
        await tickets.report(
            desk,
            chat_id=CHAT,
            nik=PEOPLE["recorded"].nik,
            kind="stolen",
            cause="lost",
            description=None,
            attachment=PDF,
            point_code="kanigoro",
            now=NOW,
        )
    with pytest.raises(ValueError, match="cause"):
        await report_damaged(desk, cause="lost")


async def test_one_open_ticket_per_person(desk):
    first = await report_damaged(desk)
    with pytest.raises(TicketAlreadyOpen) as caught:
        await report_lost(desk, "recorded")
    assert caught.value.context == {"kind": "already_open", "number": first.number}
    with pytest.raises(TicketAlreadyOpen) as caught:
        await report_damaged(desk, chat=OTHER_CHAT)
    assert caught.value.context == {"kind": "already_open", "number": None}
    assert await _count(desk, "tickets") == 1
    assert await _count(desk, "ticket_events") == 1


async def test_a_new_ticket_after_rejection_or_hand_over(desk):
    first = await report_damaged(desk)
    await tickets.reject(desk, first.id, staff=KANIGORO, reason="foto buram", now=NOW)
    second = await report_damaged(desk)
    await advance(desk, second, "handed_over")
    third = await report_lost(desk, "recorded")
    assert len({first.number, second.number, third.number}) == 3


async def test_number_collision_is_retried(desk):
    first = await report_damaged(desk, rng=random.Random(7))
    second = await report_damaged(desk, "mother", rng=random.Random(7))
    assert first.number != second.number
    assert NUMBER.match(second.number)


async def test_unknown_nik_is_refused_by_the_schema(desk):
    with pytest.raises(IntegrityError):
        await tickets.report(
            desk,
            chat_id=CHAT,
            nik="3505100000000001",
            kind="damaged",
            cause="chip",
            description=None,
            attachment=None,
            point_code="kanigoro",
            now=NOW,
        )
    assert await _count(desk, "tickets") == 0


# --- the citizen's view ---


async def test_chat_tickets_newest_first_with_history_oldest_first(desk):
    old = await report_damaged(desk)
    await tickets.verify(desk, old.id, staff=KANIGORO, now=NOW + timedelta(hours=1))
    new = await report_lost(desk, now=NOW + timedelta(days=1))
    await report_damaged(desk, "child", chat=OTHER_CHAT)
    listed = await tickets.chat_tickets(desk, CHAT)
    assert [t.number for t, _ in listed] == [new.number, old.number]
    assert [e.state for e in listed[1][1]] == ["reported", "verified"]
    assert listed[1][1][1].actor_id == KANIGORO.telegram_id
    assert await tickets.chat_tickets(desk, 424242) == []


@pytest.mark.parametrize("typed", ["{n}", " {l} ", "{l_nodash}", "{n_spaced}"])
async def test_ticket_number_is_normalised(desk, typed):
    ticket = await report_damaged(desk)
    text = typed.format(
        n=ticket.number,
        l=ticket.number.lower(),
        l_nodash=ticket.number.replace("-", "").lower(),
        n_spaced=ticket.number.replace("-", " "),
    )
    found, events = await tickets.ticket_for_chat(desk, text, CHAT)
    assert found.id == ticket.id
    assert [e.state for e in events] == ["reported"]


@pytest.mark.parametrize("typed", ["KR-AAAAAA", "", "hello", "KR-0O1I00"])
async def test_unknown_ticket_number_is_not_found(desk, typed):
    await report_damaged(desk)
    with pytest.raises(TicketNotFound) as caught:
        await tickets.ticket_for_chat(desk, typed, CHAT)
    assert caught.value.context == {"kind": "not_found"}


async def test_another_chats_ticket_is_not_found(desk):
    ticket = await report_damaged(desk)
    with pytest.raises(TicketNotFound) as caught:
        await tickets.ticket_for_chat(desk, ticket.number, OTHER_CHAT)
    assert caught.value.context == {"kind": "not_found"}


# --- staff: the legal path ---


async def test_every_legal_transition_records_an_event_and_an_audit_row(desk):
    ticket = await report_damaged(desk)
    moments = {}
    for offset, state in enumerate(PATH, start=1):
        moments[state] = NOW + timedelta(days=offset)
        ticket = await STEPS[state](desk, ticket.id, staff=KANIGORO, now=moments[state])
        assert ticket.state == state
        assert ticket.updated_at == moments[state]
    _, events = await tickets.ticket_for_chat(desk, ticket.number, CHAT)
    assert [(e.state, e.at) for e in events] == [("reported", NOW), *moments.items()]
    assert {e.actor_id for e in events[1:]} == {KANIGORO.telegram_id}
    rows = await _audit_rows(desk)
    previous = ("reported", *PATH[:-1])
    assert rows == [
        (
            KANIGORO.telegram_id,
            f"tickets:{to}",
            f"ticket={ticket.id} number={ticket.number} point=kanigoro {before}->{to}",
        )
        for before, to in zip(previous, PATH, strict=True)
    ]
    assert _no_full_nik(rows)


async def test_ready_until_is_the_wib_date_plus_30_days(desk):
    ticket = await advance(desk, await report_damaged(desk), "printed")
    late_evening = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # 00:30 WIB on 25 November
    ready = await tickets.mark_ready(desk, ticket.id, staff=KANIGORO, now=late_evening)
    assert ready.ready_until == date(2026, 12, 25)
    assert tickets.PICK_UP_DAYS == 30
    handed = await tickets.hand_over(desk, ticket.id, staff=KANIGORO, now=late_evening)
    assert handed.ready_until == date(2026, 12, 25)


@pytest.mark.parametrize("start", ["reported", "verified"])
async def test_reject_from_reported_or_verified_with_the_reason(desk, start):
    ticket = await report_damaged(desk)
    if start == "verified":
        ticket = await advance(desk, ticket, "verified")
    rejected = await tickets.reject(
        desk, ticket.id, staff=KANIGORO, reason="  Foto bukan KTP  ", now=NOW
    )
    assert (rejected.state, rejected.reason) == ("rejected", "Foto bukan KTP")
    _, events = await tickets.ticket_for_chat(desk, ticket.number, CHAT)
    assert (events[-1].state, events[-1].note) == ("rejected", "Foto bukan KTP")
    (row,) = await _audit_rows(desk, "rejected")
    assert row[2].endswith(f"{start}->rejected reason=Foto bukan KTP")


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
async def test_reject_needs_a_reason_of_1_to_200_characters(desk, reason):
    ticket = await report_damaged(desk)
    with pytest.raises(InvalidReason) as caught:
        await tickets.reject(desk, ticket.id, staff=KANIGORO, reason=reason, now=NOW)
    assert caught.value.context == {"max_length": 200}
    assert (await tickets.staff_ticket(desk, ticket.id, staff=KANIGORO)).state == "reported"


async def test_a_nik_typed_into_a_reason_is_masked_in_the_audit(desk):
    ticket = await report_damaged(desk)
    nik = PEOPLE["recorded"].nik
    await tickets.reject(desk, ticket.id, staff=KANIGORO, reason=f"NIK {nik} salah", now=NOW)
    assert _no_full_nik(await _audit_rows(desk))


# --- staff: the forbidden moves ---

FORBIDDEN = [
    ("reported", "printed"),  # jump
    ("reported", "ready"),
    ("reported", "handed_over"),
    ("verified", "verified"),  # second tap
    ("verified", "ready"),
    ("verified", "handed_over"),
    ("printed", "verified"),  # backwards
    ("printed", "printed"),
    ("printed", "rejected"),  # reject after printing
    ("printed", "handed_over"),
    ("ready", "verified"),
    ("ready", "printed"),
    ("ready", "ready"),
    ("ready", "rejected"),
    ("handed_over", "handed_over"),
    ("handed_over", "ready"),
    ("handed_over", "rejected"),
    ("rejected", "verified"),
    ("rejected", "rejected"),
]


async def _step(db, ticket, to):
    if to == "rejected":
        return await tickets.reject(db, ticket.id, staff=KANIGORO, reason="alasan", now=NOW)
    return await STEPS[to](db, ticket.id, staff=KANIGORO, now=NOW)


async def _ticket_in(db, state):
    ticket = await report_damaged(db)
    if state == "rejected":
        return await tickets.reject(db, ticket.id, staff=KANIGORO, reason="ditolak", now=NOW)
    return ticket if state == "reported" else await advance(db, ticket, state)


@pytest.mark.parametrize(("state", "to"), FORBIDDEN)
async def test_forbidden_transitions_change_nothing(desk, state, to):
    ticket = await _ticket_in(desk, state)
    events, cards = await _count(desk, "ticket_events"), await _count(desk, "received_cards")
    with pytest.raises(TicketNotChangeable) as caught:
        await _step(desk, ticket, to)
    assert caught.value.context == {"kind": "state", "state": state, "to": to}
    assert caught.value.template == "staff/ticket_error.html"
    assert (await tickets.staff_ticket(desk, ticket.id, staff=KANIGORO)).state == state
    assert await _count(desk, "ticket_events") == events
    assert await _count(desk, "received_cards") == cards
    (refused,) = await _audit_rows(desk, f"{to}:refused")
    assert refused[0] == KANIGORO.telegram_id
    assert f"number={ticket.number}" in refused[2]
    assert refused[2].endswith("refused=TicketNotChangeable")


async def test_verify_twice_is_refused(desk):
    ticket = await report_damaged(desk)
    await tickets.verify(desk, ticket.id, staff=KANIGORO, now=NOW)
    with pytest.raises(TicketNotChangeable):
        await tickets.verify(desk, ticket.id, staff=KANIGORO, now=NOW)
    assert len(await _audit_rows(desk, "verified")) == 1


@pytest.mark.parametrize(
    ("user", "error"),
    [
        (WLINGI, WrongServicePoint),
        (None, NotStaff),
        (ADMIN, NotStaff),
        (OFFICIAL, NotStaff),
        (RoleUser(105, "staff", None, None), NotStaff),
    ],
    ids=["other-point", "citizen", "admin", "official", "staff-without-point"],
)
async def test_only_staff_of_the_tickets_point_may_act(desk, user, error):
    ticket = await report_damaged(desk)
    ready = await advance(desk, await report_lost(desk), "ready")
    attempts = [
        lambda: tickets.verify(desk, ticket.id, staff=user, now=NOW),
        lambda: tickets.reject(desk, ticket.id, staff=user, reason="x", now=NOW),
        lambda: tickets.mark_printed(desk, ticket.id, staff=user, now=NOW),
        lambda: tickets.mark_ready(desk, ticket.id, staff=user, now=NOW),
        lambda: tickets.hand_over(desk, ready.id, staff=user, now=NOW),
        lambda: tickets.staff_ticket(desk, ticket.id, staff=user),
    ]
    for attempt in attempts:
        with pytest.raises(error):
            await attempt()
    assert (await tickets.staff_ticket(desk, ticket.id, staff=KANIGORO)).state == "reported"
    assert (await tickets.staff_ticket(desk, ready.id, staff=KANIGORO)).state == "ready"
    refused = [r for r in await _audit_rows(desk) if r[1].endswith(":refused")]
    assert len(refused) == 5
    assert {r[0] for r in refused} == {user.telegram_id if user else None}


async def test_citizen_cannot_list_a_points_tickets(desk):
    for user in (None, ADMIN, OFFICIAL):
        with pytest.raises(NotStaff):
            await tickets.open_tickets_for_point(desk, staff=user)


async def test_unknown_ticket_id_is_not_found_for_staff(desk):
    with pytest.raises(TicketNotFound):
        await tickets.verify(desk, 999, staff=KANIGORO, now=NOW)
    with pytest.raises(TicketNotFound):
        await tickets.staff_ticket(desk, 999, staff=KANIGORO)
    (row,) = await _audit_rows(desk, "verified:refused")
    assert row[2] == "ticket=999 refused=TicketNotFound"


async def test_open_tickets_for_point_are_the_points_open_ones_oldest_first(desk):
    first = await report_damaged(desk)
    second = await report_lost(desk)
    rejected = await report_damaged(desk, "child")
    await tickets.reject(desk, rejected.id, staff=KANIGORO, reason="x", now=NOW)
    await handed_over(desk, "unrecorded")
    await tickets.report(
        desk,
        chat_id=CHAT,
        nik=PEOPLE["deactivated"].nik,
        kind="damaged",
        cause="chip",
        description=None,
        attachment=None,
        point_code="tla-wlingi",
        now=NOW,
    )
    opened = await tickets.open_tickets_for_point(desk, staff=KANIGORO)
    assert [t.id for t in opened] == [first.id, second.id]
    assert len(await tickets.open_tickets_for_point(desk, staff=WLINGI)) == 1


# --- hand-over into the destruction register ---


async def test_handing_over_a_damaged_card_receives_the_old_card(desk):
    ticket = await handed_over(desk, "recorded")
    async with desk.execute(
        "SELECT ticket_id, nik_ref, received_at, batch_id FROM received_cards"
    ) as c:
        rows = await c.fetchall()
    assert [tuple(r) for r in rows] == [
        (ticket.id, vault_of(desk).ref(ticket.nik), NOW.isoformat(), None)
    ]
    assert (await destruction_summary(desk)).waiting == 1


async def test_handing_over_a_lost_cards_replacement_receives_nothing(desk):
    await handed_over(desk, "mother", kind="lost")
    assert await _count(desk, "received_cards") == 0
    assert (await destruction_summary(desk)).waiting == 0


# --- the schema's own guards ---


async def test_schema_refuses_a_jump_and_a_second_open_ticket(desk):
    ticket = await report_damaged(desk)
    with pytest.raises(IntegrityError, match="jump"):  # a trigger, on both engines
        await desk.execute("UPDATE tickets SET state = 'handed_over' WHERE id = ?", (ticket.id,))
    with pytest.raises(IntegrityError, match=r"tickets\.nik_ref|tickets_one_open_per_person"):
        await desk.execute(
            "INSERT INTO tickets (number, chat_id, nik_ref, kind, cause, service_point, created_at,"
            " updated_at)"
            " VALUES ('KR-ZZZZZZ', 1, ?, 'damaged', 'chip', 'kanigoro', 'x', 'x')",
            (vault_of(desk).ref(ticket.nik),),
        )


async def test_schema_refuses_a_lost_ticket_without_a_file(desk):
    with pytest.raises(IntegrityError, match=r"CHECK|check constraint"):
        await desk.execute(
            "INSERT INTO tickets (number, chat_id, nik_ref, kind, cause, service_point, created_at,"
            " updated_at) VALUES ('KH-ZZZZZZ', 1, ?, 'lost', 'lost', 'kanigoro', 'x', 'x')",
            (vault_of(desk).ref(PEOPLE["recorded"].nik),),
        )


# --- statistics ---


async def test_statistics_empty(desk):
    stats = await ticket_statistics(desk)
    assert stats.per_cause == {"peeling": 0, "chip": 0, "printing": 0, "other": 0, "lost": 0}
    assert stats.per_kecamatan == []
    assert stats.median_days_to_handover is None


async def test_statistics_per_cause_kecamatan_and_median_days(desk):
    # Kanigoro (350510): recorded, mother, child; Srengat (350503): unrecorded, deactivated.
    await handed_over(desk, "recorded")  # 0 days
    lost = await report_lost(desk, "mother")
    await advance(desk, lost, "handed_over", now=NOW + timedelta(days=3))  # 3 days
    slow = await report_damaged(desk, "unrecorded", cause="chip")
    await advance(desk, slow, "handed_over", now=NOW + timedelta(days=10, hours=12))  # 10.5
    rejected = await report_damaged(desk, "deactivated", cause="other", description="tertekuk")
    await tickets.reject(desk, rejected.id, staff=KANIGORO, reason="x", now=NOW)
    await report_damaged(desk, "child", cause="printing")  # still open

    stats = await ticket_statistics(desk)
    assert stats.per_cause == {"peeling": 1, "chip": 1, "printing": 1, "other": 1, "lost": 1}
    assert stats.per_kecamatan == [("Kanigoro", 3), ("Srengat", 2)]
    assert stats.median_days_to_handover == 3.0
