"""A group that is not a staff group gets at most one answer every few minutes.

Anyone can add the bot to a group of their own and type /cek, a NIK or a role command there over
and over. Telegram lets a bot post only 20 messages a minute to a group, so answering each would
soon mean waiting for the group's turn. Instead the bot answers such a group once per
`ANSWER_EVERY`, drops whatever else the group asks meanwhile (it never waits to answer a group),
and leaves a group that asks `LEAVE_AFTER` more times within one such period: it is not asking
for help any more. What the group sent before the bot left is dropped; re-added, the group gets
its next answer one period after the last.

Staff groups (`/grup_petugas`) and people with a role are answered as always: they may use the bot
in any group, and an admin needs an answer in a new group to make it a staff group.

The bookkeeping is in memory: a restart forgets it, which at worst gives a group one answer more.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.engine import Connection
from bot.storage import point_settings, users

ANSWER_EVERY = timedelta(minutes=5)
LEAVE_AFTER = 10  # requests dropped within one ANSWER_EVERY: the group keeps at it
_PRUNE_AT = 10_000  # groups remembered before the ones outside their period are forgotten


class Verdict(enum.Enum):
    """What to do with a request from a group."""

    ANSWER = "answer"
    DROP = "drop"
    LEAVE = "leave"


async def is_exempt(db: Connection, chat_id: int, user_id: int | None) -> bool:
    """Staff groups, and people with a role in any group, are not limited."""
    if await point_settings.is_staff_chat(db, chat_id):
        return True
    return user_id is not None and await users.get_user(db, user_id) is not None


@dataclass
class _Group:
    answered_at: datetime
    dropped: int = 0
    left: bool = False


class GroupGate:
    """The answers given to ordinary groups lately, one process's memory."""

    def __init__(self, *, every: timedelta = ANSWER_EVERY, leave_after: int = LEAVE_AFTER) -> None:
        self.every = every
        self.leave_after = leave_after
        self._groups: dict[int, _Group] = {}

    def decide(self, chat_id: int, *, now: datetime, can_send: bool = True) -> Verdict:
        """A request from the group: answer it, drop it, or leave the group.

        `can_send` False: the group may not receive a message now (Telegram holds it), so an
        answer due now is dropped rather than waited for, and still counts as the answer."""
        group = self._groups.get(chat_id)
        if group is None or now - group.answered_at >= self.every:
            self._remember(chat_id, now)
            return Verdict.ANSWER if can_send else Verdict.DROP
        group.dropped += 1
        if group.dropped < self.leave_after or group.left:
            return Verdict.DROP
        group.left = True
        return Verdict.LEAVE

    def _remember(self, chat_id: int, now: datetime) -> None:
        self._groups[chat_id] = _Group(now)
        if len(self._groups) > _PRUNE_AT:
            self._groups = {
                chat: group
                for chat, group in self._groups.items()
                if now - group.answered_at < self.every
            }
