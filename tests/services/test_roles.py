"""Registering staff, officials and admins; the single guard (on both engines)."""

from __future__ import annotations

import pytest

from bot.errors import NotAuthorized
from bot.services.roles import (
    ROLE_COMMANDS,
    InvalidUser,
    RemovalRefused,
    accounts_with_role,
    add_user,
    authorize,
    list_role_accounts,
    remove_user,
)
from bot.storage.areas import sync_areas
from tests.conftest import NOW


@pytest.fixture
async def db(engine_db):
    """A database of each engine in turn, with the Kemendagri areas loaded."""
    await sync_areas(engine_db)
    return engine_db


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


async def test_a_refused_command_repeated_adds_one_audit_row_per_hour(db):
    from datetime import timedelta

    from bot.services.audit import audit_since

    for _ in range(100):  # a citizen hammering /rekap
        with pytest.raises(NotAuthorized):
            await authorize(db, 4, "rekap", now=NOW)
    with pytest.raises(NotAuthorized):
        await authorize(db, 4, "statistik", now=NOW)  # another command: its own row
    with pytest.raises(NotAuthorized):
        await authorize(db, 4, "rekap", now=NOW + timedelta(hours=1))  # the next hour
    records = [(r.action, r.detail, r.repeats) for r in await audit_since(db, NOW)]
    assert records == [
        ("command:rekap", "refused", 99),
        ("command:statistik", "refused", 0),
        ("command:rekap", "refused", 0),
    ]


async def test_allowed_commands_are_each_audited(db):
    await add_user(db, 3, "admin", service_point=None, area=None, now=NOW)
    for _ in range(3):
        await authorize(db, 3, "statistik", now=NOW)
    async with db.execute("SELECT count(*) FROM audit_log WHERE action = 'command:statistik'") as c:
        assert (await c.fetchone())[0] == 3


async def test_a_role_replaced_then_removed(db):
    await add_user(db, 6, "official", service_point=None, area="35.05.10", now=NOW)
    admin = await add_user(db, 6, "admin", service_point=None, area=None, now=NOW)
    await add_user(db, 7, "admin", service_point=None, area=None, now=NOW)
    assert await list_role_accounts(db) == [admin, await authorize(db, 7, "cabut", now=NOW)]
    assert await accounts_with_role(db, "admin") == [6, 7]
    assert await remove_user(db, 6, actor=None, now=NOW) == admin
    with pytest.raises(RemovalRefused):
        await remove_user(db, 6, actor=None, now=NOW)
    assert await accounts_with_role(db, "admin") == [7]
