"""Scheduled work of reservations, run by the outbox worker's loop (``reservations_tick``):
expire holds and unconfirmed offers (which offers the slot to the waitlist), send event
reminders, draw lotteries that are due and release what they left. Each step owns its
transactions; a crash in the middle loses nothing that a rerun does not finish."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from madoguchi.reservations.events import event_reminders_send
from madoguchi.reservations.lottery import lotteries_tick
from madoguchi.reservations.services import bookings_expire


@dataclass
class TickReport:
    expired: int = 0
    lotteries_drawn: int = 0
    lotteries_released: int = 0
    notes: list[str] = field(default_factory=list)


def reservations_tick(*, now: datetime) -> TickReport:
    """Run every reservation task that is due at ``now``. Safe to run concurrently and again.
    A step that fails is noted and left for the next tick; it never stops the other steps."""
    report = TickReport()
    try:
        report.expired = bookings_expire(now=now)
    except Exception as error:  # the next tick retries
        report.notes.append(f"予約の期限切れ処理を中断しました（{type(error).__name__}）。")
    try:
        event_reminders_send(now=now)
    except Exception as error:
        report.notes.append(f"イベントのリマインダーを中断しました（{type(error).__name__}）。")
    try:
        lotteries = lotteries_tick(now=now)
    except Exception as error:
        report.notes.append(f"抽選の処理を中断しました（{type(error).__name__}）。")
    else:
        report.lotteries_drawn, report.lotteries_released = lotteries.drawn, lotteries.released
        if lotteries.drawn or lotteries.released:
            report.notes.append(f"抽選: 実施 {lotteries.drawn}、解放 {lotteries.released}")
    return report
