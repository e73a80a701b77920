"""/antre: service → person → service point → day → time → confirm; also rescheduling."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context, Deps, chat_locale, deps
from bot.domain import SERVICES, Booking, ServicePoint
from bot.errors import BookingError, DomainError, DriveUnavailable, RecordingNotAllowed, SlotFull
from bot.handlers import my_bookings, people, waitlist
from bot.handlers.booking_draft import CHOOSING, draft, drafted
from bot.handlers.common import (
    answer_query,
    callback_arg,
    chat_id_of,
    close_step,
    hand_on,
    on_step,
    refuse,
    reply,
    row_id,
    send_markup,
    stale,
    take_step,
)
from bot.handlers.notify import announce_booking, offer_place
from bot.services import booking as booking_service
from bot.services import drives
from bot.services.booking_options import shortlisted_points
from bot.services.directory import get_resident, get_service_point
from bot.services.schedule import free_slots, open_days
from bot.services.waitlist import Offer

REPLACEMENTS = ("rusak", "hilang")  # what a recorded person is offered instead of a recording
DRIVE_LINK = filters.Regex(r"^/start(@\w+)? drv_")  # a drive's deep link (drives.START_PREFIX)


async def begin(update: Update, context: Context) -> int:
    """`/antre`, the menu button, or a status answer's button: choose the service."""
    await answer_query(update)
    assert context.user_data is not None
    context.user_data.pop("report", None)  # one flow at a time
    context.user_data["booking"] = {"mode": "new"}
    rows = [[(f"service_{s}", f"bk:svc:{s}")] for s in SERVICES]
    await reply(update, context, "citizen/booking_choose_service.html", rows=rows, step=True)
    return CHOOSING


async def begin_with_service(update: Update, context: Context) -> int:
    """`bk:start:<service>` (e.g. under a damaged-card report): skip the service step."""
    await answer_query(update)
    service = callback_arg(update).removeprefix("start:")
    if service not in SERVICES:
        return await stale(update, context)
    assert context.user_data is not None
    context.user_data["booking"] = {"mode": "new", "service": service}
    return await _ask_person(update, context)


async def begin_at_drive(update: Update, context: Context) -> int:
    """`/start drv_<code>` (a drive's deep link, the invitation's button): a recording at the
    drive, from the person step; a drive cancelled or over gets a polite answer."""
    d = deps(context)
    code = drives.code_from_start(context.args[0] if context.args else "") or ""
    try:
        drive = await drives.available_drive(d.db, code, now=d.now())
    except DriveUnavailable as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    assert context.user_data is not None
    context.user_data.pop("report", None)  # one flow at a time
    context.user_data["booking"] = {"mode": "new", "service": "rekam", "drive": drive.code}
    template = "citizen/drive_choose_person.html"
    await people.ask_person(
        update, context, draft(context), prefix="bk", template=template, drive=drive
    )
    return CHOOSING


async def service_chosen(update: Update, context: Context) -> int:
    """Remember the service; choose the person."""
    await answer_query(update)
    service = callback_arg(update).removeprefix("svc:")
    if service not in SERVICES:
        return await stale(update, context)
    draft(context)["service"] = service
    return await _ask_person(update, context)


async def _ask_person(update: Update, context: Context) -> int:
    template = "citizen/booking_choose_person.html"
    await people.ask_person(update, context, draft(context), prefix="bk", template=template)
    return CHOOSING


async def person_chosen(update: Update, context: Context) -> int:
    """A linked or recently verified person, or `new` to verify one with NIK + KK."""
    await answer_query(update)
    choice = callback_arg(update).removeprefix("who:")
    state = await people.choose(update, context, draft(context), choice)
    return state if state is not None else await _person_fits(update, context)


async def got_nik(update: Update, context: Context) -> int:
    """The NIK of a person not yet verified in this chat."""
    return await people.got_nik(update, context, draft(context))


async def got_kk(update: Update, context: Context) -> int:
    """Verify NIK + KK exactly like /cek (same lockout, same answer when wrong)."""
    state = await people.verify(update, context, draft(context))
    return state if state is not None else await _person_fits(update, context)


async def _person_fits(update: Update, context: Context) -> int:
    """The chosen person may have the service: on to the service points; else the end."""
    if await _person_refused(update, context):
        return ConversationHandler.END
    if "drive" in draft(context):
        return await _ask_drive_day(update, context)
    return await _ask_point(update, context)


async def _ask_drive_day(update: Update, context: Context) -> int:
    """Booking from a drive's deep link: the person must live in its area; then its calendar."""
    d, b = deps(context), draft(context)
    try:
        drive = await drives.available_drive(d.db, b["drive"], now=d.now())
        await drives.require_in_area(d.db, drive, b["nik"])
    except DriveUnavailable as error:
        (context.user_data or {}).pop("booking", None)
        await refuse(update, context, error)
        return ConversationHandler.END
    b["point"] = drive.point_code
    return await _ask_day(update, context)


async def _person_refused(update: Update, context: Context) -> bool:
    """Whether the drafted person may not have the service (a recording: too young, already
    recorded); if so, say why, offer what fits (the recorded: the replacement services) and
    drop the draft."""
    d, b = deps(context), draft(context)
    try:
        await booking_service.check_person(
            d.db,
            nik=b["nik"],
            service=b["service"],
            now=d.now(),
            min_age=d.settings.recording_min_age,
        )
    except RecordingNotAllowed as error:
        (context.user_data or {}).pop("booking", None)
        rows = []
        if error.context["kind"] == "already_recorded":
            rows = [[(f"service_{s}", f"bk:start:{s}")] for s in REPLACEMENTS]
        await reply(update, context, error.template, rows=rows, **error.context)
        return True
    return False


async def _ask_point(update: Update, context: Context) -> int:
    d = deps(context)
    resident = await get_resident(d.db, draft(context)["nik"])
    assert resident is not None
    service = draft(context)["service"]
    points = await shortlisted_points(d.db, service, home_kecamatan=resident.kode_desa[:6])
    serving = await drives.drives_serving(d.db, resident, d.today()) if service == "rekam" else []
    locale = await chat_locale(context, chat_id_of(update))
    rows: list[tuple[str, dict[str, object], str]]
    rows = [("drive_pin", {"drive": v}, v.point_code) for v in serving]  # the drives first
    rows += [("map_pin", {"point": p}, p.code) for p in points]
    buttons = [
        [InlineKeyboardButton(d.renderer.label(locale, key, **ctx), callback_data=f"bk:pt:{code}")]
        for key, ctx, code in rows
    ]
    markup = InlineKeyboardMarkup(buttons)
    template = "citizen/booking_choose_point.html"
    await send_markup(update, context, template, markup, drives=serving, step=True)
    return CHOOSING


async def other_point(update: Update, context: Context) -> int:
    """Back from a full calendar to the list of service points."""
    await answer_query(update)
    if not drafted(context, "nik", "service"):
        return await stale(update, context)
    return await _ask_point(update, context)


async def point_chosen(update: Update, context: Context) -> int:
    """Show the calendar of the next open days with places left."""
    await answer_query(update)
    d = deps(context)
    point = await get_service_point(d.db, callback_arg(update).removeprefix("pt:"))
    if point is None or not drafted(context, "nik", "service"):
        return await stale(update, context)
    draft(context)["point"] = point.code
    return await _ask_day(update, context)


async def _ask_day(update: Update, context: Context) -> int:
    d = deps(context)
    point = await get_service_point(d.db, draft(context)["point"])
    assert point is not None
    days = await open_days(d.db, point, now=d.now())
    if not days:
        return await _no_days(update, context, point)
    locale = await chat_locale(context, chat_id_of(update))
    buttons = [
        InlineKeyboardButton(
            d.renderer.label(locale, "day_button", day=o.day, remaining=o.remaining),
            callback_data=f"bk:day:{o.day.isoformat()}",
        )
        for o in days
    ]
    grid = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if draft(context).get("mode") != "move":  # the waitlist, when the wanted days are full
        join = d.renderer.label(locale, "waitlist_join")
        grid.append([InlineKeyboardButton(join, callback_data="bk:wait")])
    markup = InlineKeyboardMarkup(grid)
    await send_markup(
        update, context, "citizen/booking_choose_day.html", markup, point=point, step=True
    )
    return CHOOSING


async def _no_days(update: Update, context: Context, point: ServicePoint) -> int:
    """No day with a place left at the point: the waitlist, or another point."""
    rows = [[("waitlist_join", "bk:wait")], [("booking_other_point", "bk:pts")]]
    await reply(update, context, "citizen/booking_no_days.html", rows=rows, point=point, step=True)
    return CHOOSING


async def day_chosen(update: Update, context: Context) -> int:
    """Show the day's free slots with the places left in each."""
    await answer_query(update)
    d = deps(context)
    try:
        day = date.fromisoformat(callback_arg(update).removeprefix("day:"))
    except ValueError:
        return await stale(update, context)
    point = await get_service_point(d.db, draft(context).get("point", ""))
    if point is None:
        return await stale(update, context)
    slots = await free_slots(d.db, point, day, now=d.now())
    if not slots:  # an old or stale calendar
        return await _no_slots(update, context, point, day)
    locale = await chat_locale(context, chat_id_of(update))
    buttons = [
        InlineKeyboardButton(
            d.renderer.label(locale, "slot_button", slot=s),
            callback_data=f"bk:slot:{int(s.start_at.timestamp())}",
        )
        for s in slots
    ]
    markup = InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])
    await send_markup(
        update, context, "citizen/booking_choose_slot.html", markup, day=day, point=point, step=True
    )
    return CHOOSING


async def _no_slots(update: Update, context: Context, point: ServicePoint, day: date) -> int:
    """Say why the day has no slot (past, closed...) or that it is full; the calendar again."""
    d = deps(context)
    try:
        await booking_service.check_day(d.db, point, day, now=d.now())
    except DomainError as error:
        await refuse(update, context, error)
    else:
        await reply(update, context, "citizen/booking_day_full.html", day=day)
    return await _ask_day(update, context)


async def slot_chosen(update: Update, context: Context) -> int:
    """Summarise and ask to confirm."""
    await answer_query(update)
    raw = callback_arg(update).removeprefix("slot:")
    if not 0 <= row_id(raw) < 10**10 or not drafted(context, "nik", "service", "point"):
        return await stale(update, context)
    d, b = deps(context), draft(context)
    start = datetime.fromtimestamp(int(raw), tz=d.settings.tz)
    try:  # a slot list shown a while ago: the slot may have filled, passed or closed since
        await booking_service.check_slot(
            d.db, point_code=b["point"], service=b["service"], start_at=start, now=d.now()
        )
    except BookingError as error:
        await refuse(update, context, error)
        return await _ask_day(update, context)
    b["start"] = start
    return await _ask_confirm(update, context)


async def _ask_confirm(update: Update, context: Context) -> int:
    """The summary of the draft, with Confirm / Cancel."""
    d, b = deps(context), draft(context)
    point = await get_service_point(d.db, b["point"])
    resident = await get_resident(d.db, b["nik"])
    moving = b.get("moving")  # rescheduling: the booking as it is, named in the question
    confirm = "booking_move_confirm" if moving else "booking_confirm"
    rows = [[(confirm, "bk:ok"), ("booking_cancel", "bk:no")]]
    await reply(
        update,
        context,
        "citizen/booking_summary.html",
        rows=rows,
        service=b["service"],
        point=point,
        start=b["start"],
        resident=resident,
        moving=moving,
        step=True,
    )
    return CHOOSING


async def confirmed(update: Update, context: Context) -> int:
    """Book (or move) in one transaction; send the code, the QR code and the map pin."""
    await answer_query(update)
    d = deps(context)
    b = draft(context)
    if "start" not in b:
        return await stale(update, context)
    assert update.effective_chat is not None
    try:
        booking, freed = await _book_or_move(d, update.effective_chat.id, b)
    except SlotFull as error:
        await refuse(update, context, error)
        return await _ask_day(update, context)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    (context.user_data or {}).pop("booking", None)
    replacing = take_step(update, context)  # the summary becomes the confirmation
    await announce_booking(context, booking, moved=b["mode"] == "move", replacing=replacing)
    if b["mode"] == "move" and booking != b["moving"]:  # moved to the same slot: no change
        await my_bookings.refresh(context, booking.chat_id)
    await offer_place(context, freed)
    return ConversationHandler.END


async def _book_or_move(d: Deps, chat_id: int, b: dict[str, Any]) -> tuple[Booking, Offer | None]:
    """A new booking, or the moved one with the waitlist offer of its old place."""
    if b["mode"] == "move":
        return await booking_service.reschedule_with_offer(
            d.db,
            b["booking_id"],
            chat_id=chat_id,
            start_at=b["start"],
            now=d.now(),
            min_age=d.settings.recording_min_age,
        )
    booking = await booking_service.book(
        d.db,
        chat_id=chat_id,
        nik=b["nik"],
        service=b["service"],
        point_code=b["point"],
        start_at=b["start"],
        now=d.now(),
        min_age=d.settings.recording_min_age,
    )
    return booking, None


async def declined(update: Update, context: Context) -> int:
    """The summary's cancel button."""
    await answer_query(update)
    (context.user_data or {}).pop("booking", None)
    await reply(update, context, "citizen/cancelled.html")
    return ConversationHandler.END


async def reschedule(update: Update, context: Context) -> int:
    """`jd:move:<id>` from /jadwal: the same flow from the day step."""
    await answer_query(update)
    assert update.effective_chat is not None and context.user_data is not None
    d = deps(context)
    raw = callback_arg(update).removeprefix("move:")
    bookings = await booking_service.chat_bookings(d.db, update.effective_chat.id)
    match = [b for b in bookings if str(b.id) == raw and b.active]
    if not match:
        return await stale(update, context)
    old = match[0]
    context.user_data["booking"] = {
        "mode": "move",
        "booking_id": old.id,
        "nik": old.nik,
        "service": old.service,
        "point": old.service_point,
        "moving": old,
    }
    my_bookings.remember_listing(update, context)  # the /jadwal list to refresh after
    if await _person_refused(update, context):  # e.g. recorded elsewhere since booking
        return ConversationHandler.END
    return await _ask_day(update, context)


async def cancel(update: Update, context: Context) -> int:
    """/batal inside the booking flow: the step shown loses its buttons."""
    (context.user_data or {}).pop("booking", None)
    await reply(update, context, "citizen/cancelled.html")
    await close_step(context, chat_id_of(update))
    return ConversationHandler.END


async def timed_out(update: object, context: Context) -> None:
    """No answer within the conversation's timeout: forget the draft; the step loses its
    buttons."""
    (context.user_data or {}).pop("booking", None)
    if isinstance(update, Update) and update.effective_chat is not None:
        await close_step(context, update.effective_chat.id)


async def not_text(update: Update, context: Context) -> int | None:
    """Anything typed where a button is expected, or media where digits are expected."""
    if "booking" not in (context.user_data or {}):  # the person went on to another flow
        return hand_on(update, context)
    await reply(update, context, "citizen/booking_use_buttons.html")
    return None


def register(app: Application) -> None:
    """Add the booking conversation."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    steps: list[BaseHandler[Any, Any, Any]] = [  # each for a button of the live step only
        CallbackQueryHandler(on_step(service_chosen), pattern=r"^bk:svc:"),
        CallbackQueryHandler(on_step(person_chosen), pattern=r"^bk:who:"),
        CallbackQueryHandler(on_step(point_chosen), pattern=r"^bk:pt:"),
        CallbackQueryHandler(on_step(other_point), pattern=r"^bk:pts$"),
        CallbackQueryHandler(on_step(day_chosen), pattern=r"^bk:day:"),
        CallbackQueryHandler(on_step(slot_chosen), pattern=r"^bk:slot:"),
        CallbackQueryHandler(on_step(confirmed), pattern=r"^bk:ok$"),
        CallbackQueryHandler(on_step(declined), pattern=r"^bk:no$"),
        *waitlist.steps(),
    ]
    conversation = ConversationHandler(
        entry_points=[
            CommandHandler("antre", begin, filters=private),
            CommandHandler("start", begin_at_drive, filters=private & DRIVE_LINK),
            CallbackQueryHandler(begin, pattern=r"^menu:antre$"),
            CallbackQueryHandler(begin_with_service, pattern=r"^bk:start:"),
            CallbackQueryHandler(reschedule, pattern=r"^jd:move:"),
        ],
        states={
            CHOOSING: steps,
            people.ASKING_NIK: [MessageHandler(text, got_nik)],
            people.ASKING_KK: [MessageHandler(text, got_kk)],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[
            CommandHandler("batal", cancel, filters=private),
            CommandHandler("antre", begin, filters=private),
            CommandHandler("start", begin_at_drive, filters=private & DRIVE_LINK),
            CallbackQueryHandler(begin, pattern=r"^menu:antre$"),
            CallbackQueryHandler(begin_with_service, pattern=r"^bk:start:"),
            CallbackQueryHandler(reschedule, pattern=r"^jd:move:"),
            MessageHandler(private & ~filters.COMMAND, not_text),
        ],
        conversation_timeout=timedelta(minutes=15),
        name="booking",
    )
    app.add_handler(conversation)
