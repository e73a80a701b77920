"""End to end: an admin points new bookings of a service point to a staff group chat."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_ID, STAFF_ID
from tests.e2e.test_booking import book, data_of

pytestmark = pytest.mark.usefixtures("running_bot")


async def test_new_bookings_go_to_the_staff_group_and_staff_confirm_there(botapi):
    group = botapi.group(-100900, title="Petugas Kanigoro")
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/grup_petugas kanigoro", chat=group)
    assert "dikirim ke grup ini" in (await group.next_message()).text
    user, *_ = await book(botapi, 7101, "unrecorded")
    posted = await group.next_message()
    assert "Antrean baru" in posted.text
    staff = botapi.user(STAFF_ID)
    await staff.no_message(within=0.3)  # not sent to each staff member any more
    staff.press(posted, data_of(posted, "st:ok:"))
    assert "dikonfirmasi" in (await group.next_message()).text
    assert "dikonfirmasi" in (await user.next_message()).text


async def test_staff_group_command_needs_an_admin_and_a_group(botapi):
    citizen = botapi.user(7102)
    group = botapi.group(-100901, title="Grup Warga")
    citizen.send_text("/grup_petugas kanigoro", chat=group)
    assert "hanya untuk petugas" in (await group.next_message()).text
    admin = botapi.user(ADMIN_ID)
    admin.send_text("/grup_petugas kanigoro")
    assert "Tambahkan bot ke grup petugas" in (await admin.next_message()).text
    admin.send_text("/grup_petugas atlantis", chat=group)
    assert "tidak dikenal" in (await group.next_message()).text
