"""還付 (refunds): what comes back of a paid fee when a booking is cancelled, by the facility's
refund schedule (:class:`~madoguchi.reservations.models.RefundRule`).

The schedule counts calendar days in Japan from the day of cancellation to the day of use
(0: cancelled on the day itself). The step with the largest ``days_before`` not above that
count gives the percent; with none, nothing is refunded. Only a fee actually paid is
refunded: for an unpaid (or exempt) booking nothing is due, so the refund is 0. Yen are
rounded down (a fraction of a yen is never paid out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from madoguchi.core.time import to_tokyo
from madoguchi.reservations.constants import PAID_STATUSES
from madoguchi.reservations.models import Booking, Facility, RefundRule

#: Said when a facility has no refund schedule (the default: nothing is refunded).
NO_SCHEDULE_TEXT = (
    "この施設には、取消しによる使用料の還付の決まりがありません。"
    "納付済みの使用料は、取り消しても還付されません"
    "（施設の都合による中止などは、施設にご相談ください）。"
)


@dataclass(frozen=True)
class RefundStep:
    days_before: int
    percent: int

    @property
    def text(self) -> str:
        """「7日前まで：100%」 in plain Japanese."""
        when = {0: "当日", 1: "前日まで"}.get(self.days_before, f"{self.days_before}日前まで")
        if self.percent == 0:
            return f"{when}に取り消した場合：還付はありません"
        return f"{when}に取り消した場合：使用料の{self.percent}%を還付"


def refund_schedule(facility: Facility) -> list[RefundStep]:
    """The facility's refund steps, earliest first (an empty list: nothing is refunded)."""
    return [
        RefundStep(days_before=rule.days_before, percent=rule.percent)
        for rule in RefundRule.objects.filter(
            organisation_id=facility.organisation_id, facility=facility
        ).order_by("-days_before")
    ]


def refund_schedule_lines(facility: Facility) -> list[str]:
    """The schedule as sentences for residents (with the default stated plainly)."""
    steps = refund_schedule(facility)
    if not steps:
        return [NO_SCHEDULE_TEXT]
    lines = [step.text for step in steps]
    if steps[-1].days_before > 0:
        lines.append("それより後（当日を含む）に取り消した場合：還付はありません")
    lines.append(
        "還付は納付済みの使用料についてのみ行います（未納の場合、取り消しても納付は不要です）。"
    )
    return lines


@dataclass(frozen=True)
class RefundQuote:
    #: Whether the fee was paid (only then is anything refunded).
    paid: bool
    #: Days from the day of cancellation to the day of use (Japan).
    days_before: int
    percent: int
    amount: int

    @property
    def text(self) -> str:
        if not self.paid:
            return "使用料は納付されていないため、還付はありません（納付の必要もなくなります）。"
        if self.amount == 0:
            return "いま取り消すと、還付はありません。"
        return f"いま取り消すと、使用料の{self.percent}%（{self.amount:,}円）が還付されます。"


def refund_quote(booking: Booking, *, now: datetime) -> RefundQuote:
    """What cancelling ``booking`` at ``now`` refunds (the same figure the cancellation
    stores)."""
    days = (booking.slot.date - to_tokyo(now).date()).days
    percent = 0
    for step in refund_schedule(booking.facility):
        if step.days_before <= days:
            percent = step.percent
            break
    paid = booking.payment in PAID_STATUSES
    amount = booking.fee_due * percent // 100 if paid else 0
    return RefundQuote(paid=paid, days_before=days, percent=percent, amount=amount)
