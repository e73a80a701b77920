"""Reminder planners: teens turning 17, the recording deadline, deactivated NIKs, bookings.

Each renders what bot.services.reminders finds due, in the chat's language, and queues it in
the outbox under the reminder's key: planning a day twice queues each message once. Residents'
reminders are kind 'reminder' (held in quiet hours); booking reminders are kind 'booking'.
"""

from __future__ import annotations

from datetime import time, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import TIMEZONE
from bot.domain import Booking
from bot.jobs.planning import JobRun
from bot.services import outbox, reminders
from bot.services.directory import get_resident, get_service_point
from bot.services.reminders import Reminder

EVE_FROM = time(16, 0)  # a booking-reminders run from 16:00 WIB reminds of tomorrow's visits
BOOK_RECORDING = "bk:start:rekam"  # the booking flow, service step skipped (also re-activates)


async def plan_teen_reminders(run: JobRun) -> int:
    """Teens turning 17 and not yet recorded (08:00 WIB)."""
    return await _plan(run, await reminders.teen_reminders(run.db, since=run.since, today=run.day))


async def plan_deadline_reminders(run: JobRun) -> int:
    """Unrecorded wajib-KTP residents, before the cycle's deadline (08:15 WIB)."""
    due = await reminders.deadline_reminders(run.db, since=run.since, today=run.day)
    return await _plan(run, due)


async def plan_deactivated_reminders(run: JobRun) -> int:
    """Deactivated NIKs, on the day and every 30 days until recorded (08:30 WIB)."""
    due = await reminders.deactivated_reminders(run.db, since=run.since, today=run.day)
    return await _plan(run, due)


async def plan_booking_reminders(run: JobRun) -> int:
    """From 16:00 WIB: tomorrow's visits; before: today's morning question (still coming?)."""
    if run.now.astimezone(TIMEZONE).time() >= EVE_FROM:
        tomorrow = run.day + timedelta(days=1)
        due = await reminders.bookings_to_remind(run.db, day=tomorrow, starting_after=run.now)
        planned = [await _eve(run, booking) for booking in due]
    else:
        due = await reminders.bookings_to_remind(run.db, day=run.day, starting_after=run.now)
        planned = [await _morning(run, booking) for booking in due]
    return await outbox.enqueue_many(run.db, planned, now=run.now, quiet=run.quiet)


async def _plan(run: JobRun, due: list[Reminder]) -> int:
    """Render and queue each reminder; the chat's language comes with it (thousands a day)."""
    planned, markups = [], {}
    for reminder in due:
        locale = reminder.locale or await run.locale(reminder.chat_id)
        template = f"citizen/reminder_{reminder.kind}.html"
        text = run.renderer.render(locale, template, reminder=reminder)
        if locale not in markups:  # the same button for every reminder in one language
            markups[locale] = _book_recording(run, locale)
        planned.append(
            outbox.Planned(reminder.key, reminder.chat_id, "reminder", text, markups[locale])
        )
    return await outbox.enqueue_many(run.db, planned, now=run.now, quiet=run.quiet)


def _book_recording(run: JobRun, locale: str) -> str:
    label = run.renderer.label(locale, "book_recording")
    button = InlineKeyboardButton(label, callback_data=BOOK_RECORDING)
    return InlineKeyboardMarkup([[button]]).to_json()


async def _eve(run: JobRun, booking: Booking) -> outbox.Planned:
    """Tomorrow's visit: time, place, queue number, code, what to bring."""
    locale = await run.locale(booking.chat_id)
    point = await get_service_point(run.db, booking.service_point)
    resident = await get_resident(run.db, booking.nik)
    text = run.renderer.render(
        locale, "citizen/reminder_booking.html", b=booking, point=point,
        person=resident.nama if resident else "",
    )  # fmt: skip
    key = reminders.booking_reminder_key(booking, "eve")
    return outbox.Planned(key, booking.chat_id, "booking", text)


async def _morning(run: JobRun, booking: Booking) -> outbox.Planned:
    """The morning question, as bot.handlers.notify.ask_still_coming asks it."""
    locale = await run.locale(booking.chat_id)
    point = await get_service_point(run.db, booking.service_point)
    text = run.renderer.render(locale, "citizen/booking_still_coming.html", b=booking, point=point)
    yes = run.renderer.label(locale, "still_coming_yes")
    release = run.renderer.label(locale, "still_coming_release")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes, callback_data=f"bk:coming:{booking.id}"),
                InlineKeyboardButton(release, callback_data=f"bk:release:{booking.id}"),
            ]
        ]
    )
    key = reminders.booking_reminder_key(booking, "morning")
    return outbox.Planned(key, booking.chat_id, "booking", text, markup.to_json())
