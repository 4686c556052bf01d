"""Figures of the online usage rate (オンライン利用率)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_TENTH = Decimal("0.1")


def rate(*, total: int, online: int) -> Decimal | None:
    """The online usage rate in percent to one decimal place, rounded half up
    (199,208 of 389,170 → 51.2); None when nothing was counted (never a division by zero).

    Exact: computed in decimal arithmetic from the integers, never through a float.
    """
    if total <= 0:
        return None
    return (Decimal(online) * 100 / Decimal(total)).quantize(_TENTH, rounding=ROUND_HALF_UP)
