"""Area reports: officials' /rekap of their own area (with the outreach list), admins'
/statistik of the whole regency."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import Context, chat_locale, deps
from bot.domain import RoleUser
from bot.handlers.charts import send_area_charts, send_point_chart
from bot.handlers.common import (
    HTML,
    callback_arg,
    chat_id_of,
    reply,
    requires_role,
    stale_choice,
)
from bot.places import Place
from bot.services.figures import Figures, area_scope
from bot.services.summaries import (
    OutreachList,
    area_code_for,
    kecamatan,
    kecamatan_list,
    outreach_list,
    regency,
    rekap,
    reported_elsewhere,
)
from bot.services.ticket_stats import ticket_statistics
from bot.views import keyboard
from bot.views.statistics import KECAMATAN_BUTTON, KECAMATAN_PATTERN, kecamatan_keyboard

OUTREACH_STATUSES = ("deactivated", "turning17", "unrecorded")
PDF_BUTTON = "rekap:pdf"


@requires_role("rekap")
async def area_summary(update: Update, context: Context, user: RoleUser) -> None:
    """/rekap: the official's own area (the whole regency for an admin) per group, and the
    outreach list of those the bot cannot reach as a CSV document, then the area's charts
    (private chats only)."""
    assert update.effective_chat is not None
    if update.effective_chat.type != ChatType.PRIVATE:
        await reply(update, context, "official/use_private.html")
        return
    d = deps(context)
    summary = await rekap(d.db, user, today=d.today())
    places = await reported_elsewhere(d.db, user, today=d.today())
    await reply(update, context, "official/summary.html", rekap=summary, elsewhere=places)
    if summary.outreach:
        await _send_outreach_list(update, context, user, summary)
    await send_area_charts(context, chat_id_of(update), summary)


async def _send_outreach_list(
    update: Update, context: Context, user: RoleUser, summary: Figures
) -> None:
    """The list as CSV, with a button for the same list as a printable PDF."""
    d = deps(context)
    chat_id = chat_id_of(update)
    locale = await chat_locale(context, chat_id)
    listing = await _outreach(context, user, locale)
    caption = d.renderer.render(
        locale, "official/outreach_caption.html", rekap=summary, rows=listing.rows
    )
    document = InputFile(listing.content, filename=listing.filename)
    markup = keyboard(d.renderer, locale, [[("outreach_pdf", PDF_BUTTON)]])
    await context.bot.send_document(
        chat_id, document, caption=caption, parse_mode=HTML, reply_markup=markup
    )


@requires_role("rekap")
async def outreach_pdf(update: Update, context: Context, user: RoleUser) -> None:
    """The PDF button: the outreach list as of now, A4, one desa per page."""
    d = deps(context)
    chat_id = chat_id_of(update)
    locale = await chat_locale(context, chat_id)
    area = (await area_scope(d.db, area_code_for(user, "rekap"))).area
    title = d.renderer.label(locale, "outreach_pdf_title", area=area.name, day=d.today())
    listing = await _outreach(context, user, locale, pdf_title=title)
    document = InputFile(listing.content, filename=listing.filename)
    await context.bot.send_document(chat_id, document)


async def _outreach(
    context: Context, user: RoleUser, locale: str, *, pdf_title: str | None = None
) -> OutreachList:
    d = deps(context)
    names = {s: d.renderer.label(locale, f"outreach_{s}") for s in OUTREACH_STATUSES}

    def elsewhere(place: Place) -> str:
        return d.renderer.label(locale, "outreach_elsewhere", place=place.name(locale))

    return await outreach_list(
        d.db,
        user,
        status_names=names,
        today=d.today(),
        now=d.now(),
        pdf_title=pdf_title,
        elsewhere_mark=elsewhere,
    )


@requires_role("statistik")
async def statistics(update: Update, context: Context, user: RoleUser) -> None:
    """/statistik: regency-wide counts with a button per kecamatan under them, the regency's
    charts and the service points'."""
    d = deps(context)
    figures = await regency(d.db, today=d.today())
    cards = await ticket_statistics(d.db)
    markup = kecamatan_keyboard(await kecamatan_list(d.db))
    await reply(update, context, "admin/statistics.html", f=figures, cards=cards, markup=markup)
    await send_area_charts(context, chat_id_of(update), figures)
    await send_point_chart(context, chat_id_of(update), figures)


@requires_role("statistik")
async def kecamatan_statistics(update: Update, context: Context, user: RoleUser) -> None:
    """A kecamatan button under /statistik: its figures, the numbers /rekap gives its
    official, and its charts (per desa)."""
    d = deps(context)
    code = callback_arg(update).removeprefix(KECAMATAN_BUTTON.partition(":")[2])
    try:
        summary = await kecamatan(d.db, code, today=d.today())
    except LookupError:
        await stale_choice(update, context)
        return
    await reply(update, context, "admin/kecamatan_statistics.html", f=summary)
    await send_area_charts(context, chat_id_of(update), summary)


def register(app: Application) -> None:
    """Add the officials' and admins' report commands (each guarded by the roles table)."""
    app.add_handler(CommandHandler("rekap", area_summary))
    app.add_handler(CommandHandler("statistik", statistics))
    app.add_handler(CallbackQueryHandler(outreach_pdf, pattern=rf"^{PDF_BUTTON}$"))
    app.add_handler(CallbackQueryHandler(kecamatan_statistics, pattern=KECAMATAN_PATTERN))
