"""Per-service-point booking settings: auto-confirm and the staff group chat."""

from __future__ import annotations

import aiosqlite


async def set_auto_confirm(db: aiosqlite.Connection, point_code: str, on: bool) -> bool:
    """Switch auto-confirm for new bookings at the point; False if the point is unknown."""
    cursor = await db.execute(
        "UPDATE service_points SET auto_confirm = ? WHERE code = ?", (int(on), point_code)
    )
    return cursor.rowcount == 1


async def get_auto_confirm(db: aiosqlite.Connection, point_code: str) -> bool:
    """Whether new bookings at the point are confirmed without staff."""
    rows = list(
        await db.execute_fetchall(
            "SELECT auto_confirm FROM service_points WHERE code = ?", (point_code,)
        )
    )
    return bool(rows and rows[0][0])


async def set_staff_chat(db: aiosqlite.Connection, point_code: str, chat_id: int | None) -> bool:
    """Set (or with None clear) the point's staff group chat; False if the point is unknown."""
    cursor = await db.execute(
        "UPDATE service_points SET staff_chat_id = ? WHERE code = ?", (chat_id, point_code)
    )
    return cursor.rowcount == 1


async def get_staff_chat(db: aiosqlite.Connection, point_code: str) -> int | None:
    """The point's staff group chat, or None when none is configured."""
    async with db.execute(
        "SELECT staff_chat_id FROM service_points WHERE code = ?", (point_code,)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


async def is_staff_chat(db: aiosqlite.Connection, chat_id: int) -> bool:
    """Whether the chat is some service point's staff group."""
    rows = await db.execute_fetchall(
        "SELECT 1 FROM service_points WHERE staff_chat_id = ? LIMIT 1", (chat_id,)
    )
    return bool(list(rows))
