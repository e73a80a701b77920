"""The workers' one sending budget (migration 0029): the next free moment to send at, on the
database server's clock, so the workers' own clocks need not agree to the millisecond."""

from __future__ import annotations

from bot.engine import Connection, is_postgresql

_NOW = {
    True: "extract(epoch from clock_timestamp())",
    False: "((julianday('now') - 2440587.5) * 86400.0)",
}


async def take(db: Connection, *, interval: float, only_if_free: bool) -> float | None:
    """Take the next free moment and move it `interval` seconds on; return the seconds from now
    until the moment taken (0 or less: at once). With `only_if_free`, take it only if it has
    come already (None if not: the outbox never reserves ahead of replies)."""
    now = _NOW[is_postgresql(db)]
    greatest = "greatest" if is_postgresql(db) else "max"
    free = f" AND next_at <= {now}" if only_if_free else ""
    async with db.execute(
        f"UPDATE send_budget SET next_at = {greatest}(next_at, {now}) + ?"
        f" WHERE id = 1{free} RETURNING next_at - ? - {now}",
        (interval, interval),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else float(row[0])
