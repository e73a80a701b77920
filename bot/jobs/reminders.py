"""Reminder planners: teens turning 17, the recording deadline, deactivated NIKs, bookings.

Each renders what bot.services.reminders finds due, in the chat's language, and queues it in
the outbox under the reminder's key: planning a day twice queues each message once. Residents'
reminders are kind 'reminder' (held in quiet hours); booking reminders are kind 'booking'.
"""

from __future__ import annotations

from datetime import time, timedelta

from bot.config import TIMEZONE
from bot.db import vault_of
from bot.domain import Booking
from bot.jobs.planning import JobRun
from bot.services import outbox, reminders
from bot.services.directory import get_resident, get_service_point
from bot.services.reminders import Reminder
from bot.views import bookings
from bot.views import reminders as views

EVE_FROM = time(16, 0)  # a booking-reminders run from 16:00 WIB reminds of tomorrow's visits


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
    planned, markups, vault = [], {}, vault_of(run.db)
    for reminder in due:
        locale = reminder.locale or await run.locale(reminder.chat_id)
        text = views.reminder_text(run.renderer, locale, reminder)
        mark = (locale, reminder.elsewhere is None)
        if mark not in markups:  # the same button for every reminder in one language
            markups[mark] = views.reminder_markup(run.renderer, locale, reminder)
        key, markup = reminder.key(vault), markups[mark]
        planned.append(
            outbox.Planned(key, reminder.chat_id, "reminder", text, markup, plan=reminder.plan)
        )
    return await outbox.enqueue_many(run.db, planned, now=run.now, quiet=run.quiet)


async def _eve(run: JobRun, booking: Booking) -> outbox.Planned:
    """Tomorrow's visit: time, place, queue number, code, what to bring."""
    locale = await run.locale(booking.chat_id)
    point = await get_service_point(run.db, booking.service_point)
    resident = await get_resident(run.db, booking.nik)
    person = resident.nama if resident else ""
    text, _ = bookings.eve_reminder(run.renderer, locale, booking, point, person=person)
    key = reminders.booking_reminder_key(booking, "eve")
    return outbox.Planned(key, booking.chat_id, "booking", text)


async def _morning(run: JobRun, booking: Booking) -> outbox.Planned:
    """The morning question: still coming? Yes / release my place."""
    locale = await run.locale(booking.chat_id)
    point = await get_service_point(run.db, booking.service_point)
    message = bookings.still_coming(run.renderer, locale, booking, point)
    key = reminders.booking_reminder_key(booking, "morning")
    return outbox.Planned(key, booking.chat_id, "booking", message.text, message.keyboard_json())
