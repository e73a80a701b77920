"""The admin's side of the annual deactivation: the preview, approval with a confirmation step,
and the per-desa CSV. Buttons carry only the run's id; every press is re-checked by the guard."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.config import Settings
from bot.context import Context, chat_locale, deps
from bot.domain import RoleUser
from bot.errors import DomainError
from bot.handlers.common import (
    HTML,
    callback_arg,
    chat_id_of,
    refuse,
    reply,
    requires_role,
    row_id,
)
from bot.rendering import Renderer
from bot.services import deactivation
from bot.services.deactivation import Notice, Notifier, Run
from bot.views import deactivation as views

ACTION = "deaktivasi"  # the row of the roles table that guards every step here


def notifier(renderer: Renderer, settings: Settings) -> Notifier:
    """How a linked chat is told its resident's NIK was deactivated, with a booking button."""

    def compose(locale: str, notice: Notice) -> tuple[str, str | None]:
        message = views.deactivated(renderer, locale, notice)
        return message.text, message.keyboard_json()

    return Notifier(compose, settings.default_locale, settings.quiet_hours)


@requires_role(ACTION)
async def latest(update: Update, context: Context, admin: RoleUser) -> None:
    """/deaktivasi: the preview of the cycle whose deadline passed last (prepared now if the
    job has not yet), or what was applied, with its buttons."""
    d = deps(context)
    run = await deactivation.prepare_preview(d.db, day=d.today(), now=d.now())
    elsewhere = await deactivation.cohort_elsewhere(d.db, run)
    locale = await chat_locale(context, chat_id_of(update))
    text, markup = views.preview(d.renderer, locale, run, elsewhere)
    await context.bot.send_message(chat_id_of(update), text, parse_mode=HTML, reply_markup=markup)


@requires_role(ACTION)
async def ask(update: Update, context: Context, admin: RoleUser) -> None:
    """`dz:ask:<run>`: show today's count and ask for confirmation."""
    run = await _run(update, context)
    if run is None:
        return
    if run.applied:
        await _applied(update, context, admin, run, newly=False)
        return
    d = deps(context)
    count = await deactivation.count_now(d.db, run)
    locale = await chat_locale(context, chat_id_of(update))
    text, markup = views.confirm(d.renderer, locale, run, count)
    await context.bot.send_message(chat_id_of(update), text, parse_mode=HTML, reply_markup=markup)


@requires_role(ACTION)
async def approve(update: Update, context: Context, admin: RoleUser) -> None:
    """`dz:ok:<run>`: apply once; a second approval only says who applied it and when."""
    d = deps(context)
    notify = notifier(d.renderer, d.settings)
    try:
        approval = await deactivation.approve(
            d.db, _run_id(update), admin=admin, today=d.today(), now=d.now(), notifier=notify
        )
    except DomainError as error:
        await refuse(update, context, error)
        return
    if approval.notices and (sender := context.bot_data.get("sender")) is not None:
        sender.wake()
    await _applied(update, context, admin, approval.run, approval.newly, approval.notices)


@requires_role(ACTION)
async def cancel(update: Update, context: Context, admin: RoleUser) -> None:
    """`dz:no:<run>`: nothing changes; the preview's button still works."""
    await reply(update, context, "admin/deactivation_cancelled.html")


@requires_role(ACTION)
async def per_desa_csv(update: Update, context: Context, admin: RoleUser) -> None:
    """`dz:csv:<run>`: the full per-desa list of the preview as a CSV document."""
    run = await _run(update, context)
    if run is None:
        return
    d = deps(context)
    locale = await chat_locale(context, chat_id_of(update))
    data = deactivation.per_desa_csv(run).encode("utf-8")
    name = f"penonaktifan-{run.cycle.deadline.isoformat()}.csv"
    caption = d.renderer.render(locale, "admin/deactivation_csv.html", run=run)
    await context.bot.send_document(
        chat_id_of(update), InputFile(data, filename=name), caption=caption, parse_mode=HTML
    )


def _run_id(update: Update) -> int:
    raw = callback_arg(update).partition(":")[2]
    return row_id(raw)


async def _run(update: Update, context: Context) -> Run | None:
    """The run named by the button, or None after saying the button is stale."""
    try:
        return await deactivation.get_run(deps(context).db, _run_id(update))
    except DomainError as error:
        await refuse(update, context, error)
        return None


async def _applied(
    update: Update, context: Context, admin: RoleUser, run: Run, newly: bool, notices: int = 0
) -> None:
    values = {"run": run, "newly": newly, "notices": notices, "me": admin.telegram_id}
    await reply(update, context, "admin/deactivation_applied.html", **values)


def register(app: Application) -> None:
    """Add the deactivation command and its buttons."""
    app.add_handler(CommandHandler("deaktivasi", latest))
    app.add_handler(CallbackQueryHandler(ask, pattern=r"^dz:ask:"))
    app.add_handler(CallbackQueryHandler(approve, pattern=r"^dz:ok:"))
    app.add_handler(CallbackQueryHandler(cancel, pattern=r"^dz:no:"))
    app.add_handler(CallbackQueryHandler(per_desa_csv, pattern=r"^dz:csv:"))
