"""使用料と減免 (fees and reductions): the one place that says what a booking costs.

The fee of a slot is fixed when the slot is made (by time band and resource, see
``reservations.facilities.fee_save``); a reduction (減免) of the facility lowers what is due by
its percent, rounded down to the yen. :func:`fee_quote` is shown to residents before they
confirm and stored on the booking when they do.
"""

from __future__ import annotations

from dataclasses import dataclass

from madoguchi.reservations.models import Reduction, Slot


@dataclass(frozen=True)
class FeeQuote:
    fee: int
    reduction: str
    reduction_name: str
    due: int


def fee_quote(*, slot: Slot, reduction: str = "") -> FeeQuote:
    """The fee of ``slot`` and what is due after ``reduction`` (a reduction code of the
    facility; empty for none), rounded down to the yen. Raises ``ValueError`` (Japanese) for
    an unknown or withdrawn reduction."""
    if not reduction:
        return FeeQuote(fee=slot.fee, reduction="", reduction_name="", due=slot.fee)
    if not isinstance(reduction, str) or len(reduction) > 32:
        raise ValueError("この施設には、その減免の区分はありません。")
    found = Reduction.objects.filter(
        organisation_id=slot.organisation_id,
        facility_id=slot.facility_id,
        code=reduction,
        active=True,
    ).first()
    if found is None:
        raise ValueError("この施設には、その減免の区分はありません。")
    due = slot.fee * (100 - found.percent) // 100
    return FeeQuote(fee=slot.fee, reduction=found.code, reduction_name=found.name, due=due)
