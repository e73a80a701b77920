"""A local Telegram Bot API server for tests: speaks the Bot API to a real PTB bot."""

from botapi.faults import SEND_METHODS, Faults, Limits
from botapi.server import (
    ApiError,
    ApiFailure,
    BotApiServer,
    BotMessage,
    SimChat,
    SimGroup,
    Simulation,
    SimUser,
)
from botapi.spec import ApiSpec, SpecError, UploadedFile, default_spec

__all__ = [
    "SEND_METHODS",
    "ApiError",
    "ApiFailure",
    "ApiSpec",
    "BotApiServer",
    "BotMessage",
    "Faults",
    "Limits",
    "SimChat",
    "SimGroup",
    "SimUser",
    "Simulation",
    "SpecError",
    "UploadedFile",
    "default_spec",
]
