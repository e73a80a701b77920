"""A local Telegram Bot API server for tests: speaks the Bot API to a real PTB bot."""

from bot.botapi.server import (
    ApiError,
    ApiFailure,
    BotApiServer,
    BotMessage,
    SimChat,
    SimGroup,
    Simulation,
    SimUser,
)
from bot.botapi.spec import ApiSpec, SpecError, UploadedFile, default_spec

__all__ = [
    "ApiError",
    "ApiFailure",
    "ApiSpec",
    "BotApiServer",
    "BotMessage",
    "SimChat",
    "SimGroup",
    "SimUser",
    "Simulation",
    "SpecError",
    "UploadedFile",
    "default_spec",
]
