"""Keep the running bot's memory flat: forget what it holds in memory for people long gone.

PTB keeps a `user_data` dict for every Telegram account that ever wrote to the bot, for the life
of the process, and every /cek adds a verification there (the NIK behind a button token) that
is only honoured for VERIFIED_FOR. Left alone that is about 1 KB per account, growing with every
distinct citizen since the last restart. Every hour, expired verifications are dropped, and so
is the whole entry of an account with nothing else left (a draft of a conversation in progress
is kept).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime, timedelta
from typing import Any

from bot.context import Context, deps
from bot.handlers.people import VERIFIED_FOR

FORGET_EVERY = timedelta(hours=1)


async def forget_stale_user_data(context: Context) -> None:
    """Drop expired verifications, then the accounts whose user_data is left empty."""
    application, now = context.application, deps(context).now()
    for user_id, data in list(application.user_data.items()):
        forget_expired_verifications(data, now)
        if not data:
            application.drop_user_data(user_id)


def forget_expired_verifications(data: MutableMapping[str, Any], now: datetime) -> None:
    """Remove the verifications older than VERIFIED_FOR (nobody may use them any more)."""
    verified = data.get("verified")
    if not isinstance(verified, dict):
        return
    for token, (_nik, at) in list(verified.items()):
        if now - at > VERIFIED_FOR:
            del verified[token]
    if not verified:
        del data["verified"]
