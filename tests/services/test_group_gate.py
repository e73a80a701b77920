"""The rule for ordinary groups: one answer every few minutes, never waited for; leave if they
insist. Staff groups and people with a role are not limited."""

from __future__ import annotations

from datetime import timedelta

from bot.db import transaction
from bot.services.group_gate import ANSWER_EVERY, LEAVE_AFTER, GroupGate, Verdict, is_exempt
from bot.services.roles import add_user
from bot.storage.point_settings import set_staff_chat
from bot.storage.service_points import seed_service_points
from tests.conftest import NOW

GROUP, OTHER = -100, -200


def test_one_answer_per_period_then_silence_then_leaving():
    gate = GroupGate()
    assert gate.decide(GROUP, now=NOW) is Verdict.ANSWER
    assert gate.decide(OTHER, now=NOW) is Verdict.ANSWER  # each group its own period
    later = NOW + ANSWER_EVERY - timedelta(seconds=1)
    verdicts = [gate.decide(GROUP, now=later) for _ in range(LEAVE_AFTER + 3)]
    assert verdicts == [Verdict.DROP] * (LEAVE_AFTER - 1) + [Verdict.LEAVE] + [Verdict.DROP] * 3


def test_a_new_period_brings_a_new_answer():
    gate = GroupGate()
    gate.decide(GROUP, now=NOW)
    assert gate.decide(GROUP, now=NOW + timedelta(minutes=1)) is Verdict.DROP
    assert gate.decide(GROUP, now=NOW + ANSWER_EVERY) is Verdict.ANSWER


def test_an_answer_the_group_cannot_receive_now_is_dropped_not_waited_for():
    gate = GroupGate()
    assert gate.decide(GROUP, now=NOW, can_send=False) is Verdict.DROP
    assert gate.decide(GROUP, now=NOW + timedelta(minutes=1)) is Verdict.DROP  # it was the answer


async def test_staff_groups_and_role_holders_are_exempt(db):
    async with transaction(db):
        await seed_service_points(db)
        await set_staff_chat(db, "kanigoro", GROUP)
    await add_user(db, 9001, "staff", service_point="kanigoro", area=None, now=NOW)
    assert await is_exempt(db, GROUP, 5555)
    assert await is_exempt(db, OTHER, 9001)
    assert not await is_exempt(db, OTHER, 5555)
    assert not await is_exempt(db, OTHER, None)
