"""Numbers as the statistics tables print them."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def count(value: int | None) -> str:
    """1234567 → "1,234,567"; None → "—"."""
    if value is None:
        return "—"
    return f"{int(value):,}"


@register.filter
def change(value: Decimal | int | None) -> str:
    """A year-on-year change with its sign: "+1.2", "−0.5" (minus sign), "±0", "—"."""
    if value is None:
        return "—"
    if value == 0:
        return "±0"
    text = f"{abs(value):,}" if isinstance(value, int) else f"{abs(value):.1f}"
    return ("+" if value > 0 else "−") + text
