"""Invitations to a role on both engines: claimed once, refused when used, expired, revoked or
unknown, and what revoking says (bot/services/invites.py, bot/storage/invites.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services.invites import (
    InviteInvalid,
    InviteUnknown,
    claim,
    create_invite,
    revoke_invite,
    revoke_open_invites,
)
from bot.services.roles import list_role_accounts
from bot.storage.users import RoleUser
from tests.conftest import NOW

LATER = NOW + timedelta(hours=73)  # past the default lifetime of 72 hours


async def admin_invite(db) -> str:
    return await create_invite(db, "admin", service_point=None, area=None, now=NOW)


async def test_an_invitation_gives_its_role_once(engine_db):
    payload = await admin_invite(engine_db)
    assert await claim(engine_db, payload, 42, now=NOW) == RoleUser(42, "admin", None, None)
    with pytest.raises(InviteInvalid):
        await claim(engine_db, payload, 43, now=NOW)
    assert await list_role_accounts(engine_db) == [RoleUser(42, "admin", None, None)]


async def test_an_expired_revoked_or_unknown_invitation_gives_nothing(engine_db):
    expired, revoked = await admin_invite(engine_db), await admin_invite(engine_db)
    await revoke_invite(engine_db, revoked, actor=None, now=NOW)
    for payload, now in ((expired, LATER), (revoked, NOW), ("inv_invented", NOW)):
        with pytest.raises(InviteInvalid):
            await claim(engine_db, payload, 42, now=now)
    assert await list_role_accounts(engine_db) == []


async def test_revoking_says_what_became_of_the_invitation(engine_db):
    claimed, expired, fresh = [await admin_invite(engine_db) for _ in range(3)]
    await claim(engine_db, claimed, 42, now=NOW)
    link = f"https://t.me/bot?start={fresh}"
    outcomes = [
        (await revoke_invite(engine_db, payload, actor=None, now=now)).outcome
        for payload, now in ((claimed, NOW), (expired, LATER), (link, NOW), (fresh, NOW))
    ]
    assert outcomes == ["claimed", "expired", "revoked", "revoked_before"]
    with pytest.raises(InviteUnknown):
        await revoke_invite(engine_db, "inv_invented", actor=None, now=NOW)


async def test_every_open_invitation_is_revoked_at_once(engine_db):
    claimed, *open_ones = [await admin_invite(engine_db) for _ in range(3)]
    await claim(engine_db, claimed, 42, now=NOW)
    assert await revoke_open_invites(engine_db, actor=None, now=NOW) == 2
    for payload in open_ones:
        with pytest.raises(InviteInvalid):
            await claim(engine_db, payload, 43, now=NOW)
