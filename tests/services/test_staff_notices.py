"""A booking's staff notices: each shows one version; an outdated one is edited once (through the
outbox) or, not sent yet, withdrawn; a button of an outdated notice acts on nothing."""

from __future__ import annotations

import pytest

from bot.errors import OutdatedNotice
from bot.services import frontdesk, outbox
from bot.services.booking import cancel
from bot.services.staff_notices import StaffNotice, plan_notices, retire_outdated
from bot.storage import outbox as outbox_store
from tests.conftest import NOW
from tests.desk import CHAT, KANIGORO, book_at, db_of_each_engine, desk, reread

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)

BUTTONS = '{"inline_keyboard": [[{"text": "OK", "callback_data": "st:ok:1:1"}]]}'


async def describe(notice: StaffNotice) -> str:
    return f"was: {notice.text} (v{notice.version})"


async def test_an_outdated_notice_is_edited_once_and_one_not_sent_is_withdrawn(desk):
    booking = await book_at(desk)
    assert booking.version == 1
    notices = [(701, "Antrean baru A", BUTTONS), (702, "Antrean baru B", BUTTONS)]
    assert await plan_notices(desk, booking, notices, now=NOW) == 2
    assert await plan_notices(desk, booking, notices, now=NOW) == 0  # once per chat and version
    [sent] = await outbox.claim_due(desk, now=NOW, limit=1)
    await outbox.mark_sent(desk, sent.id, 555, NOW)
    assert await retire_outdated(desk, booking, describe, now=NOW) == 0  # nothing changed yet

    cancelled, _ = await cancel(desk, booking.id, chat_id=CHAT, now=NOW)
    assert cancelled.version == 2
    assert await retire_outdated(desk, cancelled, describe, now=NOW) == 1
    edit = await outbox_store.get_message_by_key(desk, f"notice:edit:{sent.id}")
    assert (edit.chat_id, edit.edit_message_id, edit.kind) == (701, 555, "staff")
    assert edit.text == "was: Antrean baru A (v1)"
    assert edit.reply_markup_json is None  # the buttons go
    unsent = await outbox_store.get_message_by_key(desk, f"notice:booking:{booking.id}:v1:702")
    assert unsent.state == "withdrawn"
    assert await retire_outdated(desk, cancelled, describe, now=NOW) == 0  # edited once


@pytest.mark.parametrize("action", ["confirm", "reject"])
async def test_a_button_of_an_outdated_notice_changes_nothing(desk, action):
    booking = await book_at(desk)
    await frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW)  # by someone else
    act = {
        "confirm": lambda: frontdesk.confirm(desk, booking.id, staff=KANIGORO, now=NOW, version=1),
        "reject": lambda: frontdesk.reject(
            desk, booking.id, staff=KANIGORO, reason="penuh", now=NOW, version=1
        ),
    }[action]
    with pytest.raises(OutdatedNotice) as refused:
        await act()
    assert refused.value.context["b"].state == "confirmed"
    assert (await reread(desk, booking)).state == "confirmed"
