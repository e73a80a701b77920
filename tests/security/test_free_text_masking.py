"""A NIK or KK number typed into free text with spaces, dots or dashes (`3505 1012 0905 0003`) is
masked before anything is stored or sent: ticket descriptions and reasons, booking and closure
reasons, broadcast texts, staff notices and the append-only audit log (issue 13, finding 9).

End to end through the local Bot API server, then every text column of the database is read.
"""

from __future__ import annotations

import contextlib
import json
import re

import pytest

from bot.crypto import Vault, WrongKey
from bot.engine import open_database
from bot.nik import mask_number, mask_numbers_in
from bot.services.broadcasts import check_text
from bot.storage.audit import write_audit
from tests.conftest import ADMIN_ID, NOW, PEOPLE, SECRET_KEY, STAFF_ID
from tests.e2e.test_booking import book, data_of
from tests.e2e.test_tickets import report
from tests.engine_rows import every_row

WHO = PEOPLE["recorded"]


def grouped(number: str, separator: str) -> str:
    """`3505101209050003` -> `3505<sep>1012<sep>0905<sep>0003`."""
    return separator.join(number[i : i + 4] for i in range(0, 16, 4))


def leaked(text: str, numbers: tuple[str, ...]) -> list[str]:
    """The numbers whose 16 digits are in `text`, whatever separates them."""
    digits = re.sub(r"\D", "", text)
    return [mask_number(number) for number in numbers if number in digits]


async def database_texts(settings) -> list[tuple[str, str]]:
    """(table, text) of every text value in the database; sealed outbox texts opened."""
    vault = Vault.from_secret(SECRET_KEY)
    conn = await open_database(settings)
    try:
        tables = await every_row(conn)
    finally:
        await conn.close()
    found = []
    for table, rows in tables.items():
        for row in rows:
            for value in row.values():
                if isinstance(value, str):
                    found.append((table, value))
                elif isinstance(value, bytes) and table == "outbox":
                    # a text is sealed for its chat
                    with contextlib.suppress(WrongKey):
                        found.append((table, vault.open(value, "outbox.text", row["chat_id"])))
    return found


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("NIK 3505 1012 0905 0003 ya", "NIK 3505********0003 ya"),
        ("3505.1012.0905.0003", "3505********0003"),
        ("kk: 3505-10-120905-0003.", "kk: 3505********0003."),
        ("3505\u20131012\u20140905\u00a00003", "3505********0003"),
        ("3505101209050003", "3505********0003"),
        ("35051012090500031", "*" * 17),  # longer runs are masked whole
        ("HP 0812-3456-7890, antrean 12", "HP 0812-3456-7890, antrean 12"),  # 11 digits: kept
    ],
)
def test_every_nik_like_sequence_is_masked(typed, shown):
    assert mask_numbers_in(typed) == shown


async def test_broadcast_texts_and_the_audit_log_are_masked(db):
    assert check_text(f"hubungi {grouped(WHO.nik, ' ')}") == f"hubungi {mask_number(WHO.nik)}"
    await write_audit(db, ADMIN_ID, "test", f"nik={grouped(WHO.nik, '-')}", now=NOW)
    rows = await db.execute_fetchall("SELECT detail FROM audit_log")
    assert [row[0] for row in rows] == [f"nik={mask_number(WHO.nik)}"]


@pytest.mark.usefixtures("running_bot")
async def test_numbers_typed_with_spaces_never_reach_a_notice_a_row_or_the_audit(botapi, settings):
    numbers = (WHO.nik, WHO.kk, PEOPLE["unrecorded"].nik)
    staff, admin = botapi.user(STAFF_ID), botapi.user(ADMIN_ID)

    # A citizen describes the damage with their NIK in groups; staff reject it quoting the KK.
    description = f"retak, NIK {grouped(WHO.nik, ' ')}"
    user, _filed = await report(
        botapi, 7401, "recorded", "other", attach="skip", description=description
    )
    notice = await staff.next_message()
    assert mask_number(WHO.nik) in notice.text
    staff.press(notice, data_of(notice, "tks:x:"))
    await staff.next_message()  # asks for the reason
    staff.send_text(f"KK {grouped(WHO.kk, '.')} tidak cocok")
    await staff.next_message()
    told = await user.next_message()
    assert mask_number(WHO.kk) in told.text

    # An admin closes the point, giving a NIK with dashes as the reason; the booking is cancelled.
    citizen, _, _, _ = await book(botapi, 7402, "unrecorded", day="2026-11-26")
    reason = f"cek {grouped(PEOPLE['unrecorded'].nik, '-')}"
    admin.send_text(f"/tutup kanigoro 2026-11-26 2026-11-27 {reason}")
    assert "1 antrean dibatalkan" in (await admin.next_message()).text
    cancelled = await citizen.next_message()
    assert mask_number(PEOPLE["unrecorded"].nik) in cancelled.text

    for person in (staff, admin, user, citizen):
        for message in person.inbox:
            shown = json.dumps(message.raw, default=str)  # text, caption and buttons as sent
            assert leaked(shown, numbers) == [], message.text
    texts = await database_texts(settings)
    assert {"tickets", "ticket_events", "closures", "bookings", "audit_log"} <= {
        t for t, _ in texts
    }
    assert [(table, leaked(text, numbers)) for table, text in texts if leaked(text, numbers)] == []
