"""Domain errors. Each carries the template a person reads when it happens."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A rule said no. `template` names the message; `context` fills it. A subclass that sets
    `kind` (which sentence of a shared template) gets it in `context` unless one is passed."""

    template = "citizen/error_generic.html"
    kind: ClassVar[str | None] = None

    def __init__(self, message: str = "", **context: Any) -> None:
        super().__init__(message or self.__class__.__name__)
        self.context = {"kind": self.kind, **context} if self.kind else context


class InvalidNik(DomainError):
    """A NIK (or KK number) whose structure is impossible; `reason` says what is wrong."""

    template = "citizen/error_invalid_nik.html"

    def __init__(self, reason: str, **context: Any) -> None:
        super().__init__(reason, reason=reason, **context)
        self.reason = reason


class CheckLocked(DomainError):
    """Too many failed status checks; `until` is when checking is possible again."""

    template = "citizen/error_check_locked.html"


class NotAuthorized(DomainError):
    """The user's role does not allow this command or button."""

    template = "citizen/error_not_authorized.html"


class NotStaff(NotAuthorized):
    """Only staff of a service point may act on its queue."""


class NotAdmin(NotAuthorized):
    """Only an admin may manage service points."""


class WrongServicePoint(NotAuthorized):
    """The booking or ticket belongs to another service point; nothing about it is revealed."""

    template = "staff/error_wrong_point.html"


class OutdatedNotice(DomainError):
    """A button of a staff notice showing an earlier version of the booking (moved, confirmed,
    cancelled since); nothing is done. Context `b`: the booking as it is now."""

    template = "staff/notice_outdated_alert.txt"


class InvalidReason(DomainError):
    """A rejection or closure reason must be 1-200 characters; context `max_length`."""

    template = "staff/error_invalid_reason.html"


class UnknownServicePoint(DomainError):
    """No service point has this code; context `code`."""

    template = "admin/error_unknown_point.html"


class InvalidClosure(DomainError):
    """Impossible closure dates; context `kind`: `order`, `past` or `too_long`."""

    template = "admin/error_invalid_closure.html"


class FileRefused(Exception):
    """A whole import file is refused (unreadable, not CSV, wrong header); nothing changed."""


class BookingError(DomainError):
    """A booking rule said no; `kind` in the context picks the sentence the citizen reads."""

    template = "citizen/booking_error.html"
    kind = "not_found"


class SlotFull(BookingError):
    """No place left in the slot; `next_free` lists up to 3 next free slots at the point."""

    kind = "full"


class AlreadyBooked(BookingError):
    """The person already holds an active booking for the service (`booking` if this chat's)."""

    kind = "already_booked"


class TooManyBookings(BookingError):
    """The chat already holds its maximum of active bookings."""

    kind = "too_many"


class TooSoon(BookingError):
    """The slot is in the past or starts too soon to be booked."""

    kind = "too_soon"


class OutsideWindow(BookingError):
    """The day is beyond the booking window."""

    kind = "outside_window"


class PointClosed(BookingError):
    """The point does not serve at that time: weekend, holiday, closure or off the grid."""

    kind = "closed"


class ServiceNotOffered(BookingError):
    """The point does not offer the service (or no such point exists)."""

    kind = "not_offered"


class NoShowLimit(BookingError):
    """A person with too many recent no-shows may hold only one booking."""

    kind = "no_show_limit"


class RecordingNotAllowed(BookingError):
    """A recording visit is for someone not yet recorded who is at least RECORDING_MIN_AGE or
    is or was married. `kind`: `too_young` (context `age`, `min_age`, `from_day`) or
    `already_recorded` (context `recorded_on`); the latter is offered the replacement services."""

    kind = "too_young"


class BookingNotFound(BookingError):
    """No such booking for this chat (another chat's booking is never revealed)."""

    kind = "not_found"


class NotChangeable(BookingError):
    """The booking is no longer pending or confirmed, or its time has come."""

    kind = "not_changeable"


class OfferExpired(BookingError):
    """The held place's 10 minutes are over, or the offer is no longer open."""

    kind = "offer_expired"


class StaffBookingNotFound(BookingNotFound):
    """No such booking (stale button, or a code no booking has); context `code` (None by id)."""

    template = "staff/error_booking_not_found.html"


class StaffNotChangeable(NotChangeable):
    """The booking's state or day does not allow this; context `kind` (+ `state`, `day`)."""

    template = "staff/error_not_changeable.html"


class InvalidDrive(DomainError):
    """A mobile recording drive the office cannot hold; nothing is changed. Context `kind`:
    `name`, `place` (empty or too long: `max_len`), `past` (the day has come or passed),
    `too_far` (`max_days` ahead at most), `holiday`, `closed` (a closure that day), `hours`
    (not HH:MM-HH:MM within 06:00-20:00 with one 30-minute slot at least), `capacity` (1 to
    `max_capacity`), `area` (`code` is no desa or kecamatan of the regency), `point` (`code`
    cannot run a recording drive), `coordinates` (outside the regency, or only one given),
    `cancelled` (the drive was cancelled), `not_found` (no drive has `code`)."""

    template = "admin/error_invalid_drive.html"
    kind = "not_found"


class DriveUnavailable(BookingError):
    """A citizen cannot book at this drive. Context `kind`: `drive_gone` (no such drive,
    cancelled, or its day is over), `not_in_area` (the person lives outside the area it
    serves); the drive being full is SlotFull, with the waitlist offered as at an office."""

    kind = "drive_gone"
