"""The workers' one sending budget (migrations 0029, 0030): its state in one row, read with the
database server's clock and written back only over the version read, so that the workers'
changes never cross and their own clocks need not agree to the millisecond."""

from __future__ import annotations

import json

from bot.domain import SendGrants
from bot.engine import Connection, is_postgresql

_NOW = {
    True: "extract(epoch from clock_timestamp())",
    False: "((julianday('now') - 2440587.5) * 86400.0)",
}


async def read(db: Connection) -> tuple[SendGrants, int, float]:
    """The budget, its version and the server's clock (seconds since the epoch)."""
    async with db.execute(
        f"SELECT next_at, grants, version, {_NOW[is_postgresql(db)]} FROM send_budget WHERE id = 1"
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None, "migration 0029 writes the one row"
    state = json.loads(row[1])
    grants = SendGrants(
        next_at=float(row[0]),
        open={int(k): float(v) for k, v in state.get("open", {}).items()},
        done=tuple(float(at) for at in state.get("done", ())),
        last=int(state.get("last", 0)),
        replies_waiting=float(state.get("replies_waiting", 0.0)),
    )
    return grants, int(row[2]), float(row[3])


async def write(db: Connection, grants: SendGrants, *, version: int) -> bool:
    """Store the budget if it is still at `version` (False: another worker changed it since)."""
    state = json.dumps(
        {
            "open": grants.open,
            "done": grants.done,
            "last": grants.last,
            "replies_waiting": grants.replies_waiting,
        }
    )
    async with db.execute(
        "UPDATE send_budget SET next_at = ?, grants = ?, version = version + 1"
        " WHERE id = 1 AND version = ? RETURNING version",
        (grants.next_at, state, version),
    ) as cursor:
        return await cursor.fetchone() is not None
