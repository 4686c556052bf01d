"""Reads of the outbox for monitoring (``/metrics``, ``/readyz``, the group operators' page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q

from madoguchi.notifications.models import OutboxMessage


@dataclass(frozen=True)
class MailBacklog:
    """Mails not yet sent: how many, since when the oldest waits, how many failed at least
    once and wait for their retry (mail is retried without end, hourly at most: never given up)."""

    pending: int
    oldest_at: datetime | None
    failing: int

    def oldest_age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_at).total_seconds()) if self.oldest_at else 0.0


def mail_backlog() -> MailBacklog:
    """One aggregate query over the unsent mails (the ``outbox_due`` partial index)."""
    row = OutboxMessage.objects.filter(
        topic=OutboxMessage.Topic.EMAIL, delivered_at__isnull=True
    ).aggregate(
        pending=Count("id"),
        oldest=Min("created_at"),
        failing=Count("id", filter=Q(attempts__gt=0)),
    )
    return MailBacklog(
        pending=row["pending"] or 0, oldest_at=row["oldest"], failing=row["failing"] or 0
    )
