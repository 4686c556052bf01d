"""Receivers of domain events that keep the statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from madoguchi.core.time import to_tokyo
from madoguchi.stats.models import Channel
from madoguchi.stats.services import channel_count_increment


def count_arrival(
    sender: Any,
    *,
    organisation_id: int,
    procedure_id: int,
    arrived_at: datetime,
    channel: str,
    **kwargs: Any,
) -> None:
    """Count an arrived application in its month (Japan time), inside the submission transaction."""
    channel_count_increment(
        organisation_id=organisation_id,
        procedure_id=procedure_id,
        month=to_tokyo(arrived_at).date().replace(day=1),
        channel=Channel(channel),
    )
