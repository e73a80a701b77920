"""/hapus_data leaves no path from the chat to the resident it was linked to, and erases only
in a private chat."""

from __future__ import annotations

from datetime import date

import pytest

from bot.db import transaction, vault_of
from bot.jobs.registry import job_spec, run_planner, scheduled_at
from bot.places import Place
from bot.rendering import Renderer
from bot.services import elsewhere
from bot.services.booking import book
from bot.services.schedule import slot_starts
from bot.storage import chats
from tests.conftest import NOW, PEOPLE
from tests.e2e.test_booking import book as book_in_chat
from tests.e2e.test_booking import db_row
from tests.engine_rows import every_row, tables_and_columns

CHAT = 770_123_456  # long enough that no timestamp, code or hash holds its digits by chance
SURABAYA = Place("regency", "35.78")
DEWI = PEOPLE["turning17"]  # turns 17 on 15 December 2026: her reminder is planned that day
# A row naming the account may stay here: failed checks of the last hour, for the lockout
# (erasing must not reset it). Its columns are checked below: nothing in it leads further.
LOCKOUT = {"check_attempts": {"id", "user_id", "at", "succeeded"}}


async def cells_holding(db, value: int | str | bytes) -> set[str]:
    """`table.column` of every cell equal to `value` or, as text, containing it."""
    return {
        f"{table}.{column}"
        for table, found in (await every_row(db)).items()
        for row in found
        for column, cell in row.items()
        if cell == value or (isinstance(cell, str) and str(value) in cell)
    }


async def linked_with_a_reminder_and_a_booking(botapi, db, settings):
    user = botapi.user(CHAT)
    user.send_text(f"/cek {DEWI.nik} {'3505' + '0' * 12}")  # a failed check first
    await user.next_message()
    user.send_text(f"/cek {DEWI.nik} {DEWI.kk}")
    status = await user.next_message()
    user.press(status, next(d for _, d in status.buttons if d.startswith("link:nik:")))
    consent = await user.next_message()
    user.press(consent, next(d for _, d in consent.buttons if d.startswith("consent:nik:")))
    await user.next_message()
    day = date(2026, 12, 15)
    spec = job_spec("teen-reminders")
    at = spec.times[0]
    await run_planner(
        spec, at, db=db, renderer=Renderer(), settings=settings, day=day, now=scheduled_at(day, at)
    )
    # The family's word that she lives elsewhere (/domisili): the chat and her hash in one row.
    await elsewhere.report(
        db, CHAT, DEWI.nik, SURABAYA, since=date(2026, 7, 1), reason="study", today=day, now=NOW
    )
    await book(
        db,
        chat_id=CHAT,
        nik=DEWI.nik,
        service="rekam",
        point_code="kanigoro",
        start_at=slot_starts(date(2026, 11, 26))[0],
        now=NOW,
    )
    return user


async def test_after_an_erase_no_table_leads_from_the_chat_to_the_resident(
    running_bot, botapi, settings
):
    db = running_bot.bot_data["db"]
    user = await linked_with_a_reminder_and_a_booking(botapi, db, settings)
    stand_in = vault_of(db).ref(DEWI.nik)[:12].hex()  # what the reminder keys held before
    assert "links.chat_id" in await cells_holding(db, CHAT)
    assert "living_elsewhere.chat_id" in await cells_holding(db, CHAT)
    assert "living_elsewhere.nik_ref" in await cells_holding(db, vault_of(db).ref(DEWI.nik))
    assert await cells_holding(db, stand_in) == set()  # reminder keys are opaque

    user.send_text("/hapus_data")
    confirm = await user.next_message()
    user.press(confirm, "erase:yes")
    assert "sudah dihapus" in (await user.next_message()).text

    columns = await tables_and_columns(db)
    left = await cells_holding(db, CHAT)
    assert left <= {f"{table}.user_id" for table in LOCKOUT}, left
    for table, kept in LOCKOUT.items():
        assert set(columns[table]) == kept  # an account id, a time, an outcome: no way further
    assert await cells_holding(db, stand_in) == set()  # no reminder key joins back to her
    her_rows = await cells_holding(db, vault_of(db).ref(DEWI.nik))
    assert not {cell for cell in her_rows if cell.startswith("living_elsewhere.")}, her_rows


async def test_the_erase_button_does_nothing_in_a_group(running_bot, botapi):
    db = running_bot.bot_data["db"]
    group = botapi.group(-770_999, "Warga RT 3")
    async with transaction(db):
        await chats.set_locale(db, group.id, "en", now=NOW)  # something the group holds
    member = botapi.user(7701)
    member.send_text("/cek", chat=group)
    answer = await group.next_message()  # the bot's "use a private chat" message
    query = member.press(answer, "erase:yes", raw=True)  # a forged erase button
    await group.no_message(within=0.3)
    assert botapi.sim.query_answered(query)
    [alert] = member.callback_answers
    assert alert["show_alert"] is True
    assert "private chat" in alert["text"]
    assert await chats.get_locale(db, group.id) == "en"  # nothing erased


@pytest.mark.engines("sqlite", "postgresql")
async def test_erasing_a_chat_cancels_its_bookings_and_keeps_the_lockout(
    running_bot, botapi, settings
):
    user, confirmation, _, _ = await book_in_chat(botapi, 7402, "unrecorded")
    code = confirmation.html.split("<code>")[1].split("</code>")[0]
    known = PEOPLE["recorded"]
    for _ in range(5):
        user.send_text(f"/cek {known.nik} {PEOPLE['unrecorded'].kk}")
        await user.next_message()
    user.send_text("/hapus_data")
    ask = await user.next_message()
    user.press(ask, "erase:yes")
    assert "sudah dihapus" in (await user.next_message()).text
    state, chat = await db_row(settings, "SELECT state, chat_id FROM bookings WHERE code = ?", code)
    assert (state, chat) == ("cancelled", 0)
    user.send_text(f"/cek {known.nik} {known.kk}")
    assert "coba lagi pukul" in (await user.next_message()).text  # erasing is no way around it
