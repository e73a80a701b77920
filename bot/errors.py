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


class FileRefused(Exception):
    """A whole import file is refused (unreadable, not CSV, wrong header); nothing changed."""
