"""Who may run which command: one table, one guard, every decision audited."""

from __future__ import annotations

from datetime import datetime

from bot.db import transaction
from bot.engine import Connection
from bot.errors import DomainError, NotAuthorized
from bot.storage import areas, audit, service_points, users
from bot.storage.users import RoleUser

ROLES = ("staff", "official", "admin")

# command -> roles allowed to run it
ROLE_COMMANDS: dict[str, frozenset[str]] = {
    "hari_ini": frozenset({"staff"}),
    "masuk": frozenset({"staff"}),
    "tidak_hadir": frozenset({"staff"}),
    "konfirmasi_besok": frozenset({"staff"}),
    "daftar_keliling": frozenset({"staff"}),
    "tiket": frozenset({"staff"}),
    "rekap": frozenset({"official", "admin"}),
    "siaran": frozenset({"official", "admin"}),
    "statistik": frozenset({"admin"}),
    "tutup": frozenset({"admin"}),
    "autokonfirmasi": frozenset({"admin"}),
    "konfirmasi": frozenset({"admin"}),
    "grup_petugas": frozenset({"admin"}),
    "musnah": frozenset({"admin"}),
    "daftar_musnah": frozenset({"admin"}),
    "deaktivasi": frozenset({"admin"}),
    "cabut": frozenset({"admin"}),
    "keliling": frozenset({"admin"}),
}


class InvalidUser(DomainError):
    """add-user was given an impossible combination; the message says which."""


class RemovalRefused(DomainError):
    """`/cabut`: the account has no role (`kind` none), or is the admin's own (`kind` self:
    an admin who wants to leave asks another admin or the operator)."""

    template = "admin/revoke_error.html"
    kind = "none"


def commands_for_role(role: str) -> list[str]:
    """Role commands shown in that role's command menu, in table order."""
    return [name for name, roles in ROLE_COMMANDS.items() if role in roles]


async def authorize(db: Connection, telegram_id: int, command: str, *, now: datetime) -> RoleUser:
    """The account's role if it may run `command`; else NotAuthorized. Both are audited, a
    refusal once per account, command and hour (its repeats counted), so that nobody can fill
    the audit log by repeating a command they may not run."""
    user = await users.get_user(db, telegram_id)
    allowed = user is not None and user.role in ROLE_COMMANDS[command]
    async with transaction(db):
        if allowed:
            await audit.write_audit(db, telegram_id, f"command:{command}", "allowed", now=now)
        else:
            await audit.write_repeatable(db, telegram_id, f"command:{command}", "refused", now=now)
    if not allowed or user is None:
        raise NotAuthorized(command=command)
    return user


async def list_role_accounts(db: Connection) -> list[RoleUser]:
    """Every account with a role, by Telegram id."""
    return await users.list_users(db)


async def accounts_with_role(db: Connection, role: str) -> list[int]:
    """The Telegram ids (= private chats) of every account with `role`, e.g. the admins."""
    return [u.telegram_id for u in await users.list_users(db) if u.role == role]


async def add_user(
    db: Connection,
    telegram_id: int,
    role: str,
    *,
    service_point: str | None,
    area: str | None,
    now: datetime,
) -> RoleUser:
    """Register staff (with a service point), an official (with an area) or an admin."""
    user = await _validated(db, telegram_id, role, service_point, area)
    async with transaction(db):
        await users.upsert_user(db, user, now=now)
        detail = f"telegram_id={telegram_id} role={role} point={service_point} area={area}"
        await audit.write_audit(db, None, "add-user", detail, now=now)
    return user


async def validated_role(
    db: Connection, telegram_id: int, role: str, point: str | None, area: str | None
) -> RoleUser:
    """The role account as it would be stored; InvalidUser when something does not fit."""
    return await _validated(db, telegram_id, role, point, area)


async def _validated(
    db: Connection, telegram_id: int, role: str, point: str | None, area: str | None
) -> RoleUser:
    if role not in ROLES:
        raise InvalidUser(f"role must be one of {', '.join(ROLES)}")
    if telegram_id <= 0:
        raise InvalidUser("--telegram-id must be a positive number (a person's Telegram id)")
    if role == "staff" and (not point or not await service_points.get_service_point(db, point)):
        raise InvalidUser("staff need --service-point with a known code, e.g. kanigoro")
    if role == "official" and (not area or not await areas.get_area(db, area)):
        raise InvalidUser("officials need --area with a known Kemendagri code, e.g. 35.05.10.2001")
    plain_area = areas.plain_code(area) if role == "official" and area else None
    return RoleUser(telegram_id, role, point if role == "staff" else None, plain_area)


async def remove_user(
    db: Connection, telegram_id: int, *, actor: RoleUser | None, now: datetime
) -> RoleUser:
    """Take the account's role away (someone who left); the role it had. Audited, with the
    admin who did it (None: the operator's command line)."""
    if actor is not None and actor.telegram_id == telegram_id:
        raise RemovalRefused(
            f"{telegram_id} is your own account", kind="self", telegram_id=telegram_id
        )
    async with transaction(db):
        user = await users.delete_user(db, telegram_id)
        if user is not None:
            detail = f"telegram_id={telegram_id} role={user.role}"
            await audit.write_audit(db, _id(actor), "remove-user", detail, now=now)
    if user is None:
        raise RemovalRefused(f"{telegram_id} has no role", telegram_id=telegram_id)
    return user


def _id(actor: RoleUser | None) -> int | None:
    return actor.telegram_id if actor else None
