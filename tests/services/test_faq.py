"""Common questions typed as free text are matched to a topic by their keywords."""

from __future__ import annotations

import pytest

from bot.services.faq import match_topic
from bot.storage.service_points import get_service_point, seed_contacts, seed_service_points


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("halo min, mau tanya cara bikin ktp gimana ya?", "record"),
        ("How do I record my e-KTP?", "record"),
        ("Perekaman KTP-el anak saya", "record"),
        ("syaratnya apa aja buat rekam?", "bring"),
        ("What do I need to bring?", "bring"),
        ("ktp saya hilang, gimana?", "lost"),
        ("My card is damaged", "lost"),
        ("KTP rusak bawa apa?", "lost"),
        ("jam buka kantor?", "hours"),
        ("When are you open?", "hours"),
        ("bikin ktp bayar berapa?", "cost"),
        ("Is it free?", "cost"),
        ("kantor dukcapil dimana", "where"),
        ("where is the office", "where"),
        ("halo 🙂", None),
        ("terima kasih", None),
        ("", None),
    ],
)
def test_topic_of_a_question(text, topic):
    assert match_topic(text) == topic


async def test_service_points_carry_a_contact_seeded_empty(db):
    await seed_service_points(db)
    point = await get_service_point(db, "kanigoro")
    assert point is not None
    assert point.contact == ""
    await db.execute("UPDATE service_points SET contact = '0342 000' WHERE code = 'kanigoro'")
    point = await get_service_point(db, "kanigoro")
    assert point is not None
    assert point.contact == "0342 000"


async def test_contacts_from_the_data_file_fill_only_empty_ones(db, tmp_path):
    await seed_service_points(db)
    await db.execute("UPDATE service_points SET contact = 'set by hand' WHERE code = 'tla-wlingi'")
    data = tmp_path / "points.csv"
    data.write_text("code,contact\nkanigoro,0342 111\ntla-wlingi,0342 222\n", encoding="utf-8")
    await seed_contacts(db, data)
    assert (await get_service_point(db, "kanigoro")).contact == "0342 111"
    assert (await get_service_point(db, "tla-wlingi")).contact == "set by hand"
