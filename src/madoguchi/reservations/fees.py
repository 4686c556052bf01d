"""使用料と減免 (fees and reductions): the one place that says what a booking costs.

The fee of a slot is fixed when the slot is made (by time band and resource); a reduction
(減免) lowers what is due. :func:`fee_quote` is shown to residents before they confirm and
stored on the booking when they do.
"""

from __future__ import annotations

from dataclasses import dataclass

from madoguchi.reservations.models import Slot


@dataclass(frozen=True)
class FeeQuote:
    fee: int
    reduction: str
    reduction_name: str
    due: int


def fee_quote(*, slot: Slot, reduction: str = "") -> FeeQuote:
    """The fee of ``slot`` and what is due after ``reduction`` (a reduction code of the
    facility; empty for none). Raises ``ValueError`` (Japanese) for an unknown reduction."""
    if reduction:
        raise ValueError("この施設には、その減免の区分はありません。")
    return FeeQuote(fee=slot.fee, reduction="", reduction_name="", due=slot.fee)
