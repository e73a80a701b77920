"""Admin statistics of damaged/lost card tickets: causes, kecamatan, time to hand-over."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bot.domain import DAMAGE_CAUSES
from bot.engine import Connection
from bot.services.tickets import LOST_CAUSE
from bot.storage import tickets

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class TicketStats:
    """Tickets per cause and per kecamatan; median days from report to hand-over."""

    per_cause: dict[str, int]  # every cause, in DAMAGE_CAUSES order then "lost"; 0 if none
    per_kecamatan: list[tuple[str, int]]  # kecamatan name, count, biggest first
    median_days_to_handover: float | None  # None until a ticket was handed over


async def ticket_statistics(db: Connection) -> TicketStats:
    """Every ticket counted once by cause and by the resident's kecamatan; the median duration."""
    counts = await tickets.count_per_cause(db)
    spans = await tickets.handover_spans(db)
    days = [(end - start).total_seconds() / SECONDS_PER_DAY for start, end in spans]
    return TicketStats(
        per_cause={cause: counts.get(cause, 0) for cause in (*DAMAGE_CAUSES, LOST_CAUSE)},
        per_kecamatan=await tickets.count_per_kecamatan(db),
        median_days_to_handover=statistics.median(days) if days else None,
    )
