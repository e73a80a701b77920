"""Keep the bot's stores flat: forget what is kept for people long gone.

Conversations and flow data (a draft, the verifications a successful check leaves behind,
bot/services/verified.py) live in the database between updates (bot/conversations.py), each
row with an expiry. Every minute, conversations past their flow's timeout are ended as the
flow's timeout does (the step's buttons removed), and every expired row is deleted. Every hour
the database forgets successful checks older than they are of use.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.context import Context, deps
from bot.conversations import Keeper
from bot.services import conversations, verified

log = logging.getLogger(__name__)

FORGET_EVERY = timedelta(hours=1)
CONVERSATIONS_EVERY = timedelta(minutes=1)


async def forget_stale_user_data(context: Context) -> None:
    """Drop the successful checks older than SUCCESS_KEPT."""
    d = deps(context)
    if forgotten := await verified.forget_old_checks(d.db, now=d.now()):
        log.info("forgot %d successful checks older than %s", forgotten, verified.SUCCESS_KEPT)


async def end_expired_conversations(context: Context) -> None:
    """Time out the conversations past their expiry, then delete every expired row."""
    d = deps(context)
    keeper: Keeper = context.bot_data["conversations"]
    ended = await keeper.end_expired(d.now())
    deleted = await conversations.forget_expired(d.db, now=d.now())
    if ended or deleted:
        log.info("ended %d timed-out conversations, deleted %d expired rows", ended, deleted)
