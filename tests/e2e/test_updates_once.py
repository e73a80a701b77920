"""The same Telegram update delivered twice is handled once."""

from __future__ import annotations

from telegram import Update

from tests.conftest import PEOPLE


async def test_a_redelivered_update_is_handled_once(running_bot, botapi, settings):
    citizen = botapi.user(7951)
    person = PEOPLE["unrecorded"]
    other = next(p for p in PEOPLE.values() if p.kk != person.kk)
    # a wrong KK: every failed check leaves its row (successes share one per account)
    sent = citizen.send_text(f"/cek {person.nik} {other.kk}")
    await citizen.next_message()  # handled once, through polling
    update = Update.de_json(
        {"update_id": 424242, "message": {**sent, "message_id": sent["message_id"]}},
        running_bot.bot,
    )
    await running_bot.process_update(update)
    answer = await citizen.next_message()
    await running_bot.process_update(update)  # Telegram delivers it again after a crash
    await citizen.no_message(within=0.5)
    assert answer.text
    db = running_bot.bot_data["db"]
    async with db.execute(
        "SELECT count(*) FROM check_attempts WHERE user_id = ?", (citizen.id,)
    ) as cursor:
        assert (await cursor.fetchone())[0] == 2  # the polled one and update 424242, not three
