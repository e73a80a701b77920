"""An admin switches auto-confirm: a point's new bookings start confirmed."""

from __future__ import annotations

import pytest

from bot.errors import NotAdmin, UnknownServicePoint
from bot.services.autoconfirm import set_auto_confirm
from tests.conftest import NOW
from tests.desk import ADMIN, CHAT, KANIGORO, OFFICIAL, audit_rows, book_at, db_of_each_engine, desk

__all__ = ["db_of_each_engine", "desk"]  # the fixtures (each engine in turn)


async def test_auto_confirm_makes_new_bookings_confirmed(desk):
    await set_auto_confirm(desk, admin=ADMIN, point_code="kanigoro", on=True, now=NOW)
    assert (await book_at(desk, "unrecorded")).state == "confirmed"
    assert (await book_at(desk, "turning17", point="tla-wlingi", chat=CHAT + 1)).state == "pending"
    await set_auto_confirm(desk, admin=ADMIN, point_code="kanigoro", on=False, now=NOW)
    assert (await book_at(desk, "deactivated")).state == "pending"
    assert [r[2] for r in await audit_rows(desk, "auto_confirm")] == [
        "point=kanigoro on=True",
        "point=kanigoro on=False",
    ]


async def test_auto_confirm_of_an_unknown_point(desk):
    with pytest.raises(UnknownServicePoint) as caught:
        await set_auto_confirm(desk, admin=ADMIN, point_code="nowhere", on=True, now=NOW)
    assert caught.value.context == {"code": "nowhere"}


@pytest.mark.parametrize("actor", [None, KANIGORO, OFFICIAL], ids=["citizen", "staff", "official"])
async def test_only_admins_switch_auto_confirm(desk, actor):
    with pytest.raises(NotAdmin):
        await set_auto_confirm(desk, admin=actor, point_code="kanigoro", on=True, now=NOW)
    assert (await book_at(desk)).state == "pending"
