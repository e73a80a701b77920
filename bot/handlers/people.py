"""Who a booking or a report is for: someone linked to this chat or verified here lately, or
another person verified on the spot with NIK + KK (the same lockout, burst slow-down and answers
as /cek)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler

from bot.context import Context, Deps, chat_locale, deps
from bot.domain import Resident
from bot.errors import CheckLocked, InvalidNik
from bot.handlers.common import refuse, reply, row_id, send_markup
from bot.services import verified
from bot.services.burst import BurstAlert, BurstReport, CheckLimits, ChecksSlowed
from bot.services.directory import get_resident
from bot.services.links import chat_links
from bot.services.status import Status, check_status
from bot.views.people import choose_person

# Conversation states shared by every flow that asks "for whom?".
ASKING_NIK, ASKING_KK = 100, 101
PEOPLE_SHOWN = 6


async def known_people(update: Update, context: Context) -> list[Resident]:
    """Residents linked to this chat, plus those verified here in the last 15 minutes."""
    assert update.effective_chat is not None
    d = deps(context)
    people = {r.nik: r for v in await chat_links(d.db, update.effective_chat.id) for r in v.people}
    for nik in verified.fresh_niks(context.user_data, now=d.now()):
        if nik not in people and (resident := await get_resident(d.db, nik)):
            people[nik] = resident
    return list(people.values())[:PEOPLE_SHOWN]


async def ask_person(
    update: Update,
    context: Context,
    draft: dict[str, Any],
    *,
    prefix: str,
    template: str,
    **values: Any,
) -> None:
    """Offer the known people (`<prefix>:who:<i>`) and "someone else" (`<prefix>:who:new`);
    `values` fill the template."""
    people = await known_people(update, context)
    draft["people"] = [r.nik for r in people]
    assert update.effective_chat is not None
    locale = await chat_locale(context, update.effective_chat.id)
    markup = choose_person(deps(context).renderer, locale, people, prefix=prefix)
    await send_markup(update, context, template, markup, step=True, **values)


async def choose(
    update: Update, context: Context, draft: dict[str, Any], choice: str
) -> int | None:
    """Take a `who` button: None when a known person was chosen (draft["nik"] is set), else
    the state to go to (asking for a NIK, or the end for a stale button)."""
    people = draft.get("people", [])
    if choice == "new":
        await reply(update, context, "citizen/check_ask_nik.html")
        return ASKING_NIK
    if not 0 <= row_id(choice) < len(people):
        await reply(update, context, "citizen/error_stale_button.html")
        return ConversationHandler.END
    draft["nik"] = people[row_id(choice)]
    return None


async def got_nik(update: Update, context: Context, draft: dict[str, Any]) -> int:
    """The NIK of a person not yet verified here; ask for the KK number."""
    assert update.message is not None
    draft["typed_nik"] = update.message.text or ""
    await reply(update, context, "citizen/check_ask_kk.html")
    return ASKING_KK


async def verify(update: Update, context: Context, draft: dict[str, Any]) -> int | None:
    """Check the typed NIK + KK exactly like /cek: None when verified (draft["nik"] is set),
    else the state to go to."""
    assert update.message is not None and update.effective_user is not None
    d, typed_nik = deps(context), draft.get("typed_nik", "")
    try:
        status = await run_check(d, update.effective_user.id, typed_nik, update.message.text or "")
    except CheckLocked as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    except ChecksSlowed as error:  # the typed NIK stays in the draft: the KK is sent again
        await refuse(update, context, error)
        return ASKING_KK
    except InvalidNik as error:
        await refuse(update, context, error)
        return ASKING_KK if error.reason.startswith("kk_") else ASKING_NIK
    if status is None:
        await reply(update, context, "citizen/check_not_found.html")
        return ConversationHandler.END
    draft["nik"] = status.resident.nik
    verified.remember(context.user_data, draft["nik"], now=d.now())  # like /cek: reusable
    return None


async def run_check(d: Deps, user_id: int, nik_text: str, kk_text: str) -> Status | None:
    """A status check by this account with the configured limits (see check_status)."""
    limits, alert = check_limits(d), burst_alert(d)
    return await check_status(
        d.db, user_id, nik_text, kk_text, limits=limits, alert=alert, now=d.now(), today=d.today()
    )


def check_limits(d: Deps) -> CheckLimits:
    """The lockout and burst settings, for every status check."""
    return CheckLimits.from_settings(d.settings)


def burst_alert(d: Deps) -> BurstAlert:
    """How the admins are told a burst of failed checks began (counts and times only)."""

    def compose(locale: str, report: BurstReport) -> str:
        return d.renderer.render(
            locale,
            "admin/check_burst.html",
            count=report.failures,
            start=report.since,
            until=report.until,
        )

    return BurstAlert(compose, d.settings.default_locale)
