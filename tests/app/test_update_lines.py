"""ChatLines: chats side by side, each chat's updates one at a time in order, a flooding chat's
excess dropped."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.update_lines import ChatLines


def update(update_id: int, chat_id: int) -> Update:
    chat = {"id": chat_id, "type": "private", "first_name": "Uji"}
    message = {"message_id": update_id, "date": 0, "chat": chat, "text": "halo"}
    return Update.de_json({"update_id": update_id, "message": message}, None)


async def test_chats_run_side_by_side_each_in_order_and_a_flood_is_cut():
    lines = ChatLines(running=2, line=3)
    release = asyncio.Event()
    log: list[str] = []

    async def handle(name: str) -> None:
        log.append(f"start {name}")
        await release.wait()
        log.append(f"end {name}")

    flood = [update(n, 1) for n in range(1, 6)]
    tasks = [asyncio.create_task(lines.process_update(u, handle(f"a{u.update_id}"))) for u in flood]
    tasks.append(asyncio.create_task(lines.process_update(update(9, 2), handle("b"))))
    await asyncio.sleep(0.05)
    assert log == ["start a1", "start b"]  # the other chat is not behind the flood
    release.set()
    await asyncio.gather(*tasks)
    # in order, one at a time; a4 and a5 came while three of the chat's updates waited: dropped
    ran = [entry for entry in log if entry.split()[1].startswith("a")]
    assert ran == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]
