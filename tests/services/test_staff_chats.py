"""Where a point's news for its staff goes: its staff group chat, else each staff member."""

from __future__ import annotations

import pytest

from bot.errors import NotAdmin, UnknownServicePoint
from bot.services.roles import add_user
from bot.services.staff_chats import set_staff_chat, staff_recipients
from tests.conftest import NOW
from tests.desk import ADMIN, KANIGORO, OFFICIAL, audit_rows, db_of_each_engine, desk

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)


async def test_staff_recipients_group_chat_or_each_staff_member(desk):
    await add_user(desk, 105, "staff", service_point="kanigoro", area=None, now=NOW)
    assert await staff_recipients(desk, "kanigoro") == [101, 105]
    assert await staff_recipients(desk, "kec-wonodadi") == []
    await set_staff_chat(desk, admin=ADMIN, point_code="kanigoro", chat_id=-100123, now=NOW)
    assert await staff_recipients(desk, "kanigoro") == [-100123]
    assert await staff_recipients(desk, "tla-wlingi") == [102]
    await set_staff_chat(desk, admin=ADMIN, point_code="kanigoro", chat_id=None, now=NOW)
    assert await staff_recipients(desk, "kanigoro") == [101, 105]
    assert len(await audit_rows(desk, "staff_chat")) == 2


async def test_staff_chat_of_an_unknown_point(desk):
    with pytest.raises(UnknownServicePoint):
        await set_staff_chat(desk, admin=ADMIN, point_code="nowhere", chat_id=1, now=NOW)


@pytest.mark.parametrize("actor", [None, KANIGORO, OFFICIAL], ids=["citizen", "staff", "official"])
async def test_only_admins_set_the_staff_chat(desk, actor):
    with pytest.raises(NotAdmin):
        await set_staff_chat(desk, admin=actor, point_code="kanigoro", chat_id=-1, now=NOW)
    assert await staff_recipients(desk, "kanigoro") == [KANIGORO.telegram_id]
