"""/keliling: an admin's mobile recording drives (perekaman keliling).

The upcoming drives, each with Change (day, hours or capacity) and Cancel, and a button for a
new one, asked step by step: name, place, day, hours, capacity, area, service point, location
(or skip); a summary to confirm. A bad answer is answered and asked again; nothing is written
before the confirmation. A change of day or hours, or a cancellation, tells everyone whose
booking it cancels, with a button to book again, as a closure does (bot/handlers/closures.py).

The draft lives on the server (user_data); buttons only name a choice. Every step asks the role
guard again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context, chat_locale, deps
from bot.domain import Drive, RoleUser
from bot.errors import DomainError
from bot.handlers.common import (
    Row,
    answer_query,
    callback_arg,
    chat_id_of,
    refuse,
    reply,
    requires_role,
    send_markup,
    stale,
    typed_text,
)
from bot.handlers.notify import tell_citizen, update_staff_notices
from bot.services import drive_admin, drives
from bot.services.roles import authorize
from bot.views import drives_admin as views

CHOOSING, TYPING, LOCATING = range(3)
END = ConversationHandler.END
DRAFT = "drive"
ASK = "admin/drive_ask.html"


def draft(context: Context) -> dict[str, Any]:
    """The drive being planned or changed (on the server, never in buttons)."""
    assert context.user_data is not None
    return context.user_data.setdefault(DRAFT, {})


def _start_draft(context: Context, **values: Any) -> dict[str, Any]:
    assert context.user_data is not None
    context.user_data[DRAFT] = dict(values)
    return context.user_data[DRAFT]


# Every step asks the guard again; a refusal drops the draft and ends the flow.
by_admin = requires_role("keliling", refused=END, drop=DRAFT)


@by_admin
async def begin(update: Update, context: Context, admin: RoleUser) -> int:
    """/keliling: the upcoming drives with Change and Cancel, and New; /keliling KODE: that
    drive only (beyond the first ones listed)."""
    d = deps(context)
    _start_draft(context)
    code = context.args[0] if context.args else None
    try:
        found = await drive_admin.upcoming(d.db, now=d.now(), code=code)
    except DomainError as error:
        await refuse(update, context, error)
        return END
    locale = await chat_locale(context, chat_id_of(update))
    markup = views.listing(d.renderer, locale, found.drives)
    await send_markup(
        update,
        context,
        "admin/drives.html",
        markup,
        drives=found.drives,
        booked=found.booked,
        areas=found.areas,
        runners=found.runners,
        more=found.more,
    )
    return CHOOSING


@by_admin
async def new_drive(update: Update, context: Context, admin: RoleUser) -> int:
    """New: the first step, the drive's name."""
    _start_draft(context, asking=drive_admin.STEPS[0])
    return await _ask(update, context, drive_admin.STEPS[0])


async def _ask(update: Update, context: Context, field: str, drive: Drive | None = None) -> int:
    """Ask for `field`; the service point's step suggests the points nearest the area."""
    d, b = deps(context), draft(context)
    b["asking"] = field
    points = await drive_admin.suggested_points(d.db, b["area"]) if field == "point" else []
    example = d.today() + timedelta(days=7)
    await reply(update, context, ASK, field=field, changing=drive, points=points, example=example)
    return TYPING


@by_admin
async def got_answer(update: Update, context: Context, admin: RoleUser) -> int:
    """A typed answer to the step asked: kept if right, else answered and asked again."""
    d, b = deps(context), draft(context)
    field = b.get("asking")
    if field is None:
        return await stale(update, context)
    scope = {"point": b["run_by"]} if "change" in b else b
    try:
        value = await drive_admin.read_answer(
            d.db, field, typed_text(update), draft=scope, now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return TYPING
    if "change" in b:
        return await _confirm_change(update, context, value)
    b[field] = value
    return await _next_step(update, context, field)


async def _next_step(update: Update, context: Context, done: str) -> int:
    steps = drive_admin.STEPS
    if done != steps[-1]:
        return await _ask(update, context, steps[steps.index(done) + 1])
    draft(context)["asking"] = None
    await reply(update, context, ASK, field="location", changing=None, points=[], rows=_SKIP)
    return LOCATING


_SKIP: list[Row] = [[("drive_skip_location", "kl:skip")]]


@by_admin
async def got_location(update: Update, context: Context, admin: RoleUser) -> int:
    """The place's location, as Telegram sends it."""
    assert update.message is not None and update.message.location is not None
    b = draft(context)
    if not drive_admin.complete(b):
        return await stale(update, context)
    b["latitude"] = update.message.location.latitude
    b["longitude"] = update.message.location.longitude
    return await _summary(update, context)


@by_admin
async def skip_location(update: Update, context: Context, admin: RoleUser) -> int:
    """No location: the drive gets no map pin."""
    b = draft(context)
    if not drive_admin.complete(b):
        return await stale(update, context)
    b.pop("latitude", None)
    b.pop("longitude", None)
    return await _summary(update, context)


async def _summary(update: Update, context: Context) -> int:
    s = await drive_admin.summary(deps(context).db, draft(context))
    rows: list[Row] = [[("drive_create", "kl:ok"), ("drive_discard", "kl:no")]]
    await reply(update, context, "admin/drive_summary.html", plan=s, rows=rows)
    return CHOOSING


@by_admin
async def create(update: Update, context: Context, admin: RoleUser) -> int:
    """Confirmed: the drive is created (everything checked again); its code and deep link."""
    b = draft(context)
    if not drive_admin.complete(b) or b.get("asking") is not None:
        return await stale(update, context)
    d = deps(context)
    try:
        drive = await drives.create_drive(
            d.db, admin=admin, **drive_admin.create_values(b), now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return await _summary(update, context)
    _drop(context)
    link = drives.deep_link(context.bot.username, drive)
    await reply(update, context, "admin/drive_created.html", drive=drive, link=link)
    return END


@by_admin
async def change_chosen(update: Update, context: Context, admin: RoleUser) -> int:
    """Change on a drive of the list: what to change."""
    d = deps(context)
    try:
        drive = await drives.planned_drive(
            d.db, callback_arg(update).removeprefix("chg:"), now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return END
    _start_draft(context, change=drive.code, run_by=drive.run_by)
    rows: list[Row] = [[(f"drive_field_{f}", f"kl:f:{f}") for f in drive_admin.CHANGES]]
    booked = await drive_admin.booked(d.db, drive)
    await reply(update, context, "admin/drive_change.html", drive=drive, count=booked, rows=rows)
    return CHOOSING


@by_admin
async def field_chosen(update: Update, context: Context, admin: RoleUser) -> int:
    """Day, hours or capacity: ask for the new value."""
    field, b = callback_arg(update).removeprefix("f:"), draft(context)
    if field not in drive_admin.CHANGES or "change" not in b:
        return await stale(update, context)
    drive = await _changing(update, context)
    return END if drive is None else await _ask(update, context, field, drive)


async def _confirm_change(update: Update, context: Context, value: str | int) -> int:
    """The change side by side, with the number of bookings it cancels; save or cancel."""
    b = draft(context)
    drive = await _changing(update, context)
    if drive is None:
        return END
    b["value"] = value
    count = await drive_admin.affected(deps(context).db, drive, b["asking"], value)
    rows: list[Row] = [[("drive_save", "kl:save"), ("drive_discard", "kl:no")]]
    await reply(
        update,
        context,
        "admin/drive_change_confirm.html",
        drive=drive,
        field=b["asking"],
        value=drive_admin.shown_value(b["asking"], value),
        affected=count,
        rows=rows,
    )
    return CHOOSING


@by_admin
async def save_change(update: Update, context: Context, admin: RoleUser) -> int:
    """Saved: the drive changes; the people whose bookings it cancels are told."""
    b, d = draft(context), deps(context)
    if "change" not in b or "value" not in b:
        return await stale(update, context)
    try:
        change = await drives.change_drive(
            d.db,
            b["change"],
            admin=admin,
            **drive_admin.change_value(b["asking"], b["value"]),
            now=d.now(),
        )
    except DomainError as error:
        await refuse(update, context, error)
        return END
    _drop(context)
    count = len(change.cancelled)
    await reply(update, context, "admin/drive_changed.html", drive=change.drive, count=count)
    await _tell_booked(context, change, "citizen/drive_moved.html")
    return END


@by_admin
async def cancel_chosen(update: Update, context: Context, admin: RoleUser) -> int:
    """Cancel on a drive of the list: are you sure (and how many are booked)?"""
    d = deps(context)
    try:
        drive = await drives.planned_drive(
            d.db, callback_arg(update).removeprefix("del:"), now=d.now()
        )
    except DomainError as error:
        await refuse(update, context, error)
        return END
    _start_draft(context, cancel=drive.code)
    rows: list[Row] = [[("drive_cancel_yes", "kl:drop"), ("drive_discard", "kl:no")]]
    booked = await drive_admin.booked(d.db, drive)
    await reply(
        update, context, "admin/drive_cancel_confirm.html", drive=drive, count=booked, rows=rows
    )
    return CHOOSING


@by_admin
async def cancel_confirmed(update: Update, context: Context, admin: RoleUser) -> int:
    """Cancelled: its bookings are cancelled, their places released, their people told."""
    b, d = draft(context), deps(context)
    if "cancel" not in b:
        return await stale(update, context)
    try:
        change = await drives.cancel_drive(d.db, b["cancel"], admin=admin, now=d.now())
    except DomainError as error:
        await refuse(update, context, error)
        return END
    _drop(context)
    count = len(change.cancelled)
    await reply(update, context, "admin/drive_cancelled.html", drive=change.drive, count=count)
    await _tell_booked(context, change, "citizen/drive_cancelled.html")
    return END


async def _tell_booked(context: Context, change: drives.DriveChange, template: str) -> None:
    """Each cancelled booking's citizen told (with the rebook button), its staff notices
    edited, as for a closure."""
    for booking in change.cancelled:
        await tell_citizen(context, booking, template, drive=change.drive)
        await update_staff_notices(context, booking)


async def _changing(update: Update, context: Context) -> Drive | None:
    """The drive being changed, if it still can be; else the refusal and None."""
    d = deps(context)
    try:
        return await drives.planned_drive(d.db, draft(context)["change"], now=d.now())
    except DomainError as error:
        _drop(context)
        await refuse(update, context, error)
        return None


async def declined(update: Update, context: Context) -> int:
    """The cancel button, or /batal: nothing is written."""
    await answer_query(update)
    _drop(context)
    await reply(update, context, "citizen/cancelled.html")
    return END


async def use_location(update: Update, context: Context) -> None:
    """Something typed where a location (or Skip) is expected."""
    await reply(update, context, "admin/drive_use_location.html", rows=_SKIP)


async def use_buttons(update: Update, context: Context) -> None:
    """Something typed where a button is expected."""
    await reply(update, context, "citizen/booking_use_buttons.html")


async def outside_flow(update: Update, context: Context) -> None:
    """A /keliling button with no /keliling in progress (an old message, or data forged by
    someone without the role): the guard answers (a refusal is audited), else "old button"."""
    await answer_query(update)
    assert update.effective_user is not None
    d = deps(context)
    try:
        await authorize(d.db, update.effective_user.id, "keliling", now=d.now())
    except DomainError as error:
        await refuse(update, context, error)
        return
    await stale(update, context)


@requires_role("keliling")
async def use_private(update: Update, context: Context, admin: RoleUser) -> None:
    """/keliling in a group: after the role check, ask for a private chat."""
    await reply(update, context, "admin/drive_use_private.html")


def _drop(context: Context) -> None:
    (context.user_data or {}).pop(DRAFT, None)


def register(app: Application) -> None:
    """Add the /keliling conversation (before the handlers that read typed NIKs)."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    entries: list[BaseHandler[Any, Any, Any]] = [
        CallbackQueryHandler(new_drive, pattern=r"^kl:new$"),
        CallbackQueryHandler(change_chosen, pattern=r"^kl:chg:"),
        CallbackQueryHandler(cancel_chosen, pattern=r"^kl:del:"),
    ]
    buttons: list[BaseHandler[Any, Any, Any]] = [
        *entries,
        CallbackQueryHandler(field_chosen, pattern=r"^kl:f:"),
        CallbackQueryHandler(skip_location, pattern=r"^kl:skip$"),
        CallbackQueryHandler(create, pattern=r"^kl:ok$"),
        CallbackQueryHandler(save_change, pattern=r"^kl:save$"),
        CallbackQueryHandler(cancel_confirmed, pattern=r"^kl:drop$"),
        CallbackQueryHandler(declined, pattern=r"^kl:no$"),
    ]
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("keliling", begin, filters=private), *entries],
            states={
                CHOOSING: buttons,
                TYPING: [MessageHandler(text, got_answer), *buttons],
                LOCATING: [
                    MessageHandler(private & filters.LOCATION, got_location),
                    *buttons,
                    MessageHandler(text, use_location),
                ],
            },
            fallbacks=[
                CommandHandler("batal", declined, filters=private),
                CommandHandler("keliling", begin, filters=private),
                MessageHandler(private & ~filters.COMMAND, use_buttons),
            ],
            conversation_timeout=timedelta(minutes=30),
            name="drives_admin",
        )
    )
    app.add_handler(CallbackQueryHandler(outside_flow, pattern=r"^kl:"))
    app.add_handler(CommandHandler("keliling", use_private, filters=filters.ChatType.GROUPS))
