"""What handlers and jobs share: PTB's context type, their collaborators and the chat's language.

Handlers and jobs both run inside PTB's Application; everything they pass to services comes from
`bot_data`, filled once at start-up (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from telegram.ext import ContextTypes

from bot.clock import Clock
from bot.config import Settings
from bot.engine import Connection
from bot.rendering import Renderer
from bot.services.directory import get_locale

Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True)
class Deps:
    """The collaborators handlers pass to services."""

    db: Connection
    settings: Settings
    clock: Clock
    renderer: Renderer

    def now(self) -> datetime:
        """The current instant (UTC)."""
        return self.clock.now()

    def today(self) -> date:
        """Today's date in WIB."""
        return self.clock.now().astimezone(self.settings.tz).date()


def deps(context: Context) -> Deps:
    """The collaborators stored in bot_data at start-up."""
    data = context.bot_data
    return Deps(data["db"], data["settings"], data["clock"], data["renderer"])


async def chat_locale(context: Context, chat_id: int) -> str:
    """The chat's language: its own choice, else the configured default."""
    d = deps(context)
    return await get_locale(d.db, chat_id) or d.settings.default_locale
