"""Time at the edges. "Now" is taken once in a view or task and passed down."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

TOKYO = ZoneInfo("Asia/Tokyo")


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return timezone.now()


def to_tokyo(instant: datetime) -> datetime:
    """Show an instant in Japan time."""
    return instant.astimezone(TOKYO)
