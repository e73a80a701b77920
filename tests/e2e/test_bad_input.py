"""End to end: every kind of bad input gets a clear, polite answer and changes nothing."""

from __future__ import annotations

import pytest

from bot.engine import open_database
from bot.services.group_gate import ANSWER_EVERY
from tests.conftest import PEOPLE

pytestmark = pytest.mark.usefixtures("running_bot")


async def count_rows(settings, table: str) -> int:
    conn = await open_database(settings)
    async with conn.execute(f"SELECT count(*) FROM {table}") as cur:
        (n,) = await cur.fetchone()
    await conn.close()
    return n


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("35051O0101800001", "hanya berisi angka"),  # a letter O
        ("350510120580001", "yang Anda ketik 15 digit"),
        ("35051012058000011", "yang Anda ketik 17 digit"),
        ("🙂🙂🙂", "hanya berisi angka"),
        ("x" * 5000, "hanya berisi angka"),
        ("3505109905800001", "tanggal lahir"),
        ("3505100113800001", "bulan lahir"),
        ("3505101205800000", "0000"),
    ],
)
async def test_bad_nik_is_explained_and_asked_again(botapi, settings, typed, expected):
    user = botapi.user(4001)
    user.send_text("/cek")
    await user.next_message()
    user.send_text(typed)
    answer = await user.next_message()
    assert expected in answer.text
    assert typed not in answer.text
    person = PEOPLE["recorded"]
    user.send_text(person.nik)  # still asking for the NIK
    assert "nomor Kartu Keluarga" in (await user.next_message()).text
    assert await count_rows(settings, "check_attempts") == 0


async def test_bad_kk_is_explained_and_asked_again(botapi):
    person = PEOPLE["recorded"]
    user = botapi.user(4002)
    user.send_text(f"/cek {person.nik} 12")
    assert "KK harus 16 digit" in (await user.next_message()).text
    user.send_text(person.kk)
    assert "AKTIF" in (await user.next_message()).text


async def test_photo_where_text_is_expected(botapi, settings):
    user = botapi.user(4003)
    user.send_text("/cek")
    await user.next_message()
    user.send_photo()
    assert "ketik angkanya sebagai teks" in (await user.next_message()).text
    user.send_sticker()
    assert "ketik angkanya sebagai teks" in (await user.next_message()).text


async def test_photo_and_gibberish_outside_a_step(botapi):
    user = botapi.user(4004)
    user.send_photo()
    assert "belum memahami" in (await user.next_message()).text
    user.send_text("halo 🙂")
    assert "belum memahami" in (await user.next_message()).text
    user.send_text("/tidakada")
    assert "belum memahami" in (await user.next_message()).text


async def test_cancel_leaves_the_check(botapi):
    user = botapi.user(4005)
    user.send_text("/cek")
    await user.next_message()
    user.send_text("/batal")
    assert "dibatalkan" in (await user.next_message()).text
    user.send_text("/batal")
    assert "Tidak ada langkah" in (await user.next_message()).text


async def test_old_or_forged_buttons_are_refused_politely(botapi, settings):
    user = botapi.user(4006)
    user.send_text("/start")
    menu = await user.next_message()
    for data in (
        "link:nik:deadbeef",
        "consent:kk:00000000",
        "lang:xx",
        "loc:nowhere",
        "zz",
        "rem:t:abc",
    ):
        user.press(menu, data, raw=True)
        assert "tidak berlaku" in (await user.next_message()).text
    assert await count_rows(settings, "links") == 0


async def test_nik_in_a_group_is_never_answered_there(botapi, clock):
    user = botapi.user(4008)
    group = botapi.group(-100777, title="Grup Desa Minggirsari")
    person = PEOPLE["recorded"]
    user.send_text(f"cek dong {person.nik} {person.kk}", chat=group)
    warning = await group.next_message()
    assert "tidak dijawab di grup" in warning.text
    assert person.nama not in warning.text
    assert warning.buttons[0][1].endswith("?start=cek")
    clock.advance(ANSWER_EVERY)  # an ordinary group gets one answer every few minutes
    user.send_text("/cek", chat=group)
    assert "chat pribadi" in (await group.next_message()).text
    await user.no_message(within=0.3)
