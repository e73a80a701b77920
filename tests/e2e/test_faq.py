"""End to end: a question typed as free text gets an answer naming the command, or whom to ask."""

from __future__ import annotations

import pytest

from tests.conftest import PEOPLE

pytestmark = pytest.mark.usefixtures("running_bot")


async def test_indonesian_question_gets_the_recording_answer(botapi):
    user = botapi.user(4601)
    user.send_text("halo min, mau tanya cara bikin ktp gimana ya?")
    answer = (await user.next_message()).text
    assert "Cara rekam e-KTP" in answer
    assert "/antre" in answer
    assert "belum memahami" not in answer


async def test_english_question_gets_the_english_answer(botapi):
    user = botapi.user(4602)
    user.send_text("/bahasa")
    user.press(await user.next_message(), "lang:en")
    await user.next_message()
    user.send_text("My KTP is lost, what do I do?")
    answer = (await user.next_message()).text
    assert "A damaged or lost card" in answer
    assert "/lapor" in answer
    assert "police loss report" in answer


async def test_unmatched_text_gets_whom_to_ask_and_when(botapi):
    user = botapi.user(4603)
    user.send_text("terima kasih banyak")
    answer = (await user.next_message()).text
    assert "belum memahami" in answer
    assert "TLA Srengat: tanyakan langsung di tempat, Senin" in answer
    assert "Kantor kecamatan: tanyakan langsung di tempat" in answer


async def test_sixteen_digits_still_start_a_check(botapi):
    user = botapi.user(4604)
    user.send_text(PEOPLE["deactivated"].nik)
    assert "KK" in (await user.next_message()).text
