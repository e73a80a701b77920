"""Keep the running bot flat: forget what it holds for people long gone.

PTB keeps a `user_data` dict for every Telegram account that ever wrote to the bot, for the life
of the process, and every successful check keeps a verification there (bot/services/verified.py)
that is only honoured for a quarter of an hour. Every hour, expired verifications are dropped,
and so is the whole entry of an account with nothing else left (a draft of a conversation in
progress is kept); the database forgets successful checks older than they are of use.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.context import Context, deps
from bot.services import verified

log = logging.getLogger(__name__)

FORGET_EVERY = timedelta(hours=1)


async def forget_stale_user_data(context: Context) -> None:
    """Drop expired verifications, the accounts whose user_data is left empty, and old
    successful checks."""
    application, d = context.application, deps(context)
    for user_id, data in list(application.user_data.items()):
        verified.forget_expired(data, now=d.now())
        if not data:
            application.drop_user_data(user_id)
    if forgotten := await verified.forget_old_checks(d.db, now=d.now()):
        log.info("forgot %d successful checks older than %s", forgotten, verified.SUCCESS_KEPT)
