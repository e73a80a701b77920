"""One-time, expiring invitations: an admin's deep link instead of typing Telegram ids.

`dukcapil-bot invite --role ...` prints a t.me link whose start payload carries a random token;
the first person to open it within its lifetime gets the role. Only the token's hash is stored,
and a used, expired or unknown token gets the same refusal.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.db import transaction
from bot.engine import Connection
from bot.errors import DomainError
from bot.services.roles import validated_role
from bot.storage import audit, invites, users
from bot.storage.invites import InviteState

INVITE_PREFIX = "inv_"  # /start payloads that are invitations
DEFAULT_LIFETIME = timedelta(hours=72)
TOKEN_BYTES = 24  # 32 URL-safe characters: a deep link payload allows 64 of [A-Za-z0-9_-]


class InviteInvalid(DomainError):
    """The invitation was used already, has expired, or never existed."""

    template = "citizen/invite_invalid.html"


async def create_invite(
    db: Connection,
    role: str,
    *,
    service_point: str | None,
    area: str | None,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> str:
    """A new invitation's /start payload (`inv_<token>`); the role's details are checked now."""
    user = await validated_role(db, 1, role, service_point, area)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    async with transaction(db):
        await invites.insert_invite(db, _hash(token), user, now=now, expires=now + lifetime)
        until = (now + lifetime).isoformat(timespec="minutes")
        detail = f"role={role} point={service_point} area={area} until={until}"
        await audit.write_audit(db, None, "invite", detail, now=now)
    return INVITE_PREFIX + token


async def claim(db: Connection, payload: str, telegram_id: int, *, now: datetime) -> users.RoleUser:
    """Give the invitation's role to the person who opened it; InviteInvalid if it cannot be."""
    token = payload.removeprefix(INVITE_PREFIX)
    async with transaction(db):
        user = await invites.claim_invite(db, _hash(token), telegram_id, now=now)
        if user is None:
            await audit.write_repeatable(
                db, telegram_id, "invite-refused", "used, expired or unknown", now=now
            )
        else:
            await users.upsert_user(db, user, now=now)
            detail = f"role={user.role} point={user.service_point} area={user.area_code}"
            await audit.write_audit(db, telegram_id, "invite-claimed", detail, now=now)
    if user is None:
        raise InviteInvalid()
    return user


class InviteUnknown(DomainError):
    """No invitation has this link (mistyped, or from another bot's database)."""

    template = "admin/revoke_error.html"
    kind = "unknown_invite"


@dataclass(frozen=True)
class Revocation:
    """What revoking an invitation did. `outcome`: revoked (now), claimed (too late: the role
    of `claimed_by` must be removed instead), expired or revoked_before (unusable already)."""

    role: str
    outcome: str
    claimed_by: int | None


def token_of(link: str) -> str:
    """The token of an invitation as `invite` printed it: the t.me link, its `inv_...` start
    payload, or the bare token."""
    return link.strip().rsplit("start=", 1)[-1].removeprefix(INVITE_PREFIX)


async def revoke_invite(
    db: Connection, link: str, *, actor: users.RoleUser | None, now: datetime
) -> Revocation:
    """Make the invitation unusable; InviteUnknown if no invitation has this link. Audited."""
    async with transaction(db):
        state = await invites.revoke_invite(db, _hash(token_of(link)), now=now)
        if state is None:
            raise InviteUnknown("no invitation has this link")
        revocation = Revocation(state.role, _outcome(state), state.claimed_by)
        detail = f"role={state.role} outcome={revocation.outcome} claimed_by={state.claimed_by}"
        await audit.write_audit(db, _id(actor), "revoke-invite", detail, now=now)
    return revocation


async def revoke_open_invites(
    db: Connection, *, actor: users.RoleUser | None, now: datetime
) -> int:
    """Make every invitation not used yet unusable; how many there were. Audited."""
    async with transaction(db):
        count = await invites.revoke_open_invites(db, now=now)
        await audit.write_audit(db, _id(actor), "revoke-invite", f"all_unused={count}", now=now)
    return count


def _outcome(state: InviteState) -> str:
    if state.claimed_by is not None:
        return "claimed"
    if state.revoked:
        return "revoked_before"
    return "expired" if state.expired else "revoked"


def _id(actor: users.RoleUser | None) -> int | None:
    return actor.telegram_id if actor else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
