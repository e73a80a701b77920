"""End to end: /start and /cek through the local Bot API server, as a citizen would."""

from __future__ import annotations

import pytest

from tests.conftest import KK_LESTARI, KK_SANTOSO, PEOPLE

# The first end-to-end tests on both engines (tests/conftest.py: --engines, the engines marker).
pytestmark = [pytest.mark.usefixtures("running_bot"), pytest.mark.engines("sqlite", "postgresql")]


async def ask_status(user, nik: str, kk: str):
    user.send_text("/cek")
    assert "NIK" in (await user.next_message()).text
    user.send_text(nik)
    assert "KK" in (await user.next_message()).text
    user.send_text(kk)
    return await user.next_message()


async def test_start_shows_welcome_and_menu(botapi):
    user = botapi.user(1001)
    user.send_text("/start")
    welcome = await user.next_message()
    assert "Selamat datang" in welcome.text
    assert ("🔎 Cek NIK", "menu:cek") in welcome.buttons
    assert len(welcome.buttons) == 9


async def test_menu_is_published_in_both_languages(botapi):
    default = [c["command"] for c in botapi.commands_for(("default",))]
    english = botapi.commands_for(("default",), language_code="en")
    assert "cek" in default
    assert "hapus_data" in default
    assert "hari_ini" not in default
    assert english[1]["description"].startswith("Check")


async def test_start_deep_link_opens_the_check(botapi):
    user = botapi.user(1002)
    user.send_text("/start cek")
    assert "ketik <b>NIK</b>" in (await user.next_message()).html


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("recorded", "sudah rekam e-KTP"),
        ("deactivated", "NONAKTIF"),
        ("unrecorded", "belum rekam e-KTP"),
        ("turning17", "berusia 17 tahun pada"),
        ("child", "belum wajib KTP"),
    ],
)
async def test_check_conversational(botapi, who, expected):
    person = PEOPLE[who]
    user = botapi.user(1100)
    answer = await ask_status(user, person.nik, person.kk)
    assert expected in answer.text
    assert person.nik not in answer.text
    assert f"{person.nik[:4]}********{person.nik[-4:]}" in answer.text
    assert person.nama in answer.text


async def test_deactivated_is_told_why_and_how_with_a_booking_button(botapi):
    person = PEOPLE["deactivated"]
    user = botapi.user(1101)
    user.send_text(f"/cek {person.nik} {KK_LESTARI}")
    answer = await user.next_message()
    assert "Cara mengaktifkan kembali" in answer.text
    assert "Kanigoro" in answer.text
    assert ("🗓 Pesan antrean perekaman", "menu:antre") in answer.buttons


async def test_turning_17_gets_date_and_deadline(botapi):
    person = PEOPLE["turning17"]
    user = botapi.user(1102)
    user.send_text(f"/cek {person.nik} {person.kk}")
    answer = await user.next_message()
    assert "Selasa, 15 Desember 2026" in answer.text
    assert "Jumat, 30 April 2027" in answer.text


async def test_one_shot_check_for_recorded_has_no_booking_button(botapi):
    person = PEOPLE["recorded"]
    user = botapi.user(1103)
    user.send_text(f"/cek {person.nik} {person.kk}")
    answer = await user.next_message()
    assert "AKTIF" in answer.text
    assert all(data != "menu:antre" for _, data in answer.buttons)


async def test_typing_a_nik_starts_the_check(botapi):
    person = PEOPLE["unrecorded"]
    user = botapi.user(1104)
    user.send_text(person.nik)
    assert "nomor Kartu Keluarga" in (await user.next_message()).text
    user.send_text(person.kk)
    assert "belum rekam e-KTP" in (await user.next_message()).text


async def test_unknown_nik_and_wrong_kk_are_indistinguishable(botapi):
    known = PEOPLE["recorded"]
    unknown_nik = known.nik[:-4] + "0999"
    user = botapi.user(1105)
    wrong_kk = await ask_status(user, known.nik, KK_LESTARI)
    unknown = await ask_status(user, unknown_nik, KK_SANTOSO)
    assert wrong_kk.text == unknown.text
    assert wrong_kk.buttons == unknown.buttons
    assert "tidak ditemukan" in unknown.text


async def test_lockout_after_five_failures(botapi):
    known = PEOPLE["recorded"]
    user = botapi.user(1106)
    for _ in range(5):
        user.send_text(f"/cek {known.nik} {KK_LESTARI}")
        assert "tidak ditemukan" in (await user.next_message()).text
    user.send_text(f"/cek {known.nik} {known.kk}")
    refused = await user.next_message()
    assert "pukul <b>11.00 WIB</b>" in refused.html
    assert "AKTIF" not in refused.text
    user.send_text("/cek")
    assert "11.00" in (await user.next_message()).text
    other = botapi.user(1107)  # the limit is per account
    other.send_text(f"/cek {known.nik} {known.kk}")
    assert "AKTIF" in (await other.next_message()).text


async def test_lockout_lifts_after_an_hour(botapi, clock):
    from datetime import timedelta

    known = PEOPLE["recorded"]
    user = botapi.user(1108)
    for _ in range(6):
        user.send_text(f"/cek {known.nik} {KK_LESTARI}")
        await user.next_message()
    clock.advance(timedelta(hours=1, minutes=1))
    user.send_text(f"/cek {known.nik} {known.kk}")
    assert "AKTIF" in (await user.next_message()).text


async def test_no_full_nik_or_kk_is_sent_or_logged(botapi, caplog):
    import json
    import logging

    caplog.set_level(logging.INFO)
    user = botapi.user(1109)
    for person in PEOPLE.values():
        user.send_text(f"/cek {person.nik} {person.kk}")
        await user.next_message()
    user.send_text(f"/cek {PEOPLE['recorded'].nik} {KK_LESTARI}")
    await user.next_message()
    sent = json.dumps([params for _, params in botapi.requests], ensure_ascii=False)
    for person in PEOPLE.values():
        assert person.nik not in sent
        assert person.kk not in sent
        assert person.nik not in caplog.text
        assert person.kk not in caplog.text


async def test_start_deep_link_to_locations(botapi):
    user = botapi.user(1110)
    user.send_text("/start lokasi")
    assert "TLA Wlingi" in (await user.next_message()).text
