"""Scheduled work of reservations, run by the outbox worker's loop (``reservations_tick``):
expire holds and unconfirmed offers, draw lotteries and release what they left. Each step owns its transactions; a crash in the middle
loses nothing that a rerun does not finish."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from madoguchi.reservations.lottery import lotteries_tick
from madoguchi.reservations.services import bookings_expire


@dataclass
class TickReport:
    expired: int = 0
    lotteries_drawn: int = 0
    lotteries_released: int = 0
    notes: list[str] = field(default_factory=list)


def reservations_tick(*, now: datetime) -> TickReport:
    """Run every reservation task that is due at ``now``. Safe to run concurrently and again."""
    report = TickReport()
    report.expired = bookings_expire(now=now)
    lotteries = lotteries_tick(now=now)
    report.lotteries_drawn, report.lotteries_released = lotteries.drawn, lotteries.released
    return report
