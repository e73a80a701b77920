"""Registering staff, officials and admins; the single guard."""

from __future__ import annotations

import pytest

from bot.errors import NotAuthorized
from bot.services.roles import ROLE_COMMANDS, InvalidUser, add_user, authorize
from tests.conftest import NOW


async def test_staff_needs_a_known_service_point(db):
    from bot.storage.service_points import seed_service_points

    await seed_service_points(db)
    with pytest.raises(InvalidUser):
        await add_user(db, 5, "staff", service_point=None, area=None, now=NOW)
    with pytest.raises(InvalidUser):
        await add_user(db, 5, "staff", service_point="kec-atlantis", area=None, now=NOW)
    user = await add_user(db, 5, "staff", service_point="kec-wonodadi", area=None, now=NOW)
    assert user.service_point == "kec-wonodadi"


async def test_official_area_dotted_or_plain(db):
    with pytest.raises(InvalidUser):
        await add_user(db, 6, "official", service_point=None, area="35.99", now=NOW)
    dotted = await add_user(db, 6, "official", service_point=None, area="35.05.08.2001", now=NOW)
    plain = await add_user(db, 7, "official", service_point=None, area="3505082001", now=NOW)
    assert dotted.area_code == plain.area_code == "3505082001"


@pytest.mark.parametrize("command", sorted(ROLE_COMMANDS))
async def test_guard_matches_the_table_for_every_role(db, command):
    from bot.storage.service_points import seed_service_points

    await seed_service_points(db)
    await add_user(db, 1, "staff", service_point="kanigoro", area=None, now=NOW)
    await add_user(db, 2, "official", service_point=None, area="35.05.10", now=NOW)
    await add_user(db, 3, "admin", service_point=None, area=None, now=NOW)
    for telegram_id, role in ((1, "staff"), (2, "official"), (3, "admin"), (4, "citizen")):
        if role in ROLE_COMMANDS[command]:
            assert (await authorize(db, telegram_id, command, now=NOW)).role == role
        else:
            with pytest.raises(NotAuthorized):
                await authorize(db, telegram_id, command, now=NOW)
    async with db.execute(
        "SELECT count(*) FROM audit_log WHERE action = ?", (f"command:{command}",)
    ) as cur:
        (audited,) = await cur.fetchone()
    assert audited == 4
