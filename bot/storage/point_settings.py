"""Per-service-point booking settings: auto-confirm and the staff group chat."""

from __future__ import annotations

from bot.engine import Connection


async def set_auto_confirm(db: Connection, point_code: str, on: bool) -> bool:
    """Switch auto-confirm for new bookings at the point; False if the point is unknown."""
    cursor = await db.execute(
        "UPDATE service_points SET auto_confirm = ? WHERE code = ?", (int(on), point_code)
    )
    return cursor.rowcount == 1


async def get_auto_confirm(db: Connection, point_code: str) -> bool:
    """Whether new bookings at the point are confirmed without staff."""
    rows = list(
        await db.execute_fetchall(
            "SELECT auto_confirm FROM service_points WHERE code = ?", (point_code,)
        )
    )
    return bool(rows and rows[0][0])


async def set_staff_chat(db: Connection, point_code: str, chat_id: int | None) -> bool:
    """Set (or with None clear) the point's staff group chat; False if the point is unknown."""
    cursor = await db.execute(
        "UPDATE service_points SET staff_chat_id = ? WHERE code = ?", (chat_id, point_code)
    )
    return cursor.rowcount == 1


async def get_staff_chat(db: Connection, point_code: str) -> int | None:
    """The point's staff group chat, or None when none is configured."""
    async with db.execute(
        "SELECT staff_chat_id FROM service_points WHERE code = ?", (point_code,)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


async def is_staff_chat(db: Connection, chat_id: int) -> bool:
    """Whether the chat is some service point's staff group."""
    rows = await db.execute_fetchall(
        "SELECT 1 FROM service_points WHERE staff_chat_id = ? LIMIT 1", (chat_id,)
    )
    return bool(list(rows))


async def starts_confirmed(db: Connection, point_code: str) -> bool:
    """Whether a new booking at the point needs no staff to confirm it: the point auto-confirms,
    or no notice would reach anyone. A notice reaches the point's staff group if one is set and
    has not blocked the bot, else each staff member of the point who has opened the bot (a chat
    row) and not blocked it (as `services.staff_chats.staff_recipients` sends them)."""
    rows = list(
        await db.execute_fetchall(
            "SELECT sp.auto_confirm = 1 OR NOT CASE WHEN sp.staff_chat_id IS NOT NULL"
            " THEN sp.staff_chat_id NOT IN (SELECT chat_id FROM blocked_chats)"
            " ELSE EXISTS (SELECT 1 FROM users u JOIN chats c ON c.chat_id = u.telegram_id"
            "  WHERE u.role = 'staff' AND u.service_point = sp.code"
            "  AND u.telegram_id NOT IN (SELECT chat_id FROM blocked_chats)) END"
            " FROM service_points sp WHERE sp.code = ?",
            (point_code,),
        )
    )
    return bool(rows and rows[0][0])
