"""/tutup: an admin closes one service point (or all) for some days; the bookings of those days
are cancelled and their citizens told."""

from __future__ import annotations

from datetime import date

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import Context, deps
from bot.domain import RoleUser
from bot.errors import DomainError
from bot.handlers.common import refuse, reply, requires_role
from bot.handlers.notify import tell_citizen, update_staff_notices
from bot.services import closures
from bot.services.directory import get_service_point

ALL_POINTS = "semua"
CLOSED = "admin/closed.html"


@requires_role("tutup")
async def close(update: Update, context: Context, admin: RoleUser) -> None:
    """/tutup KODE|semua YYYY-MM-DD YYYY-MM-DD alasan: close a point; bookings are cancelled."""
    try:
        point, first, last, reason = _closure(list(context.args or []))
    except (IndexError, ValueError):
        await reply(update, context, "admin/close_usage.html")
        return
    d = deps(context)
    try:
        cancelled = await closures.close_point(
            d.db,
            admin=admin,
            point_code=point,
            first_day=first,
            last_day=last,
            reason=reason,
            now=d.now(),
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    place = await get_service_point(d.db, point) if point else None
    count = len(cancelled)
    await reply(update, context, CLOSED, point=place, first=first, last=last, count=count)
    for booking in cancelled:
        await tell_citizen(context, booking, "citizen/booking_state.html")
        await update_staff_notices(context, booking)


def _closure(args: list[str]) -> tuple[str | None, date, date, str]:
    """The point's code (None: every point), the first and last day, and the reason typed."""
    point = None if args[0] == ALL_POINTS else args[0]
    return point, date.fromisoformat(args[1]), date.fromisoformat(args[2]), " ".join(args[3:])


def register(app: Application) -> None:
    """Add /tutup (guarded by the roles table)."""
    app.add_handler(CommandHandler("tutup", close))
