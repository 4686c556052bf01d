"""Queueing and delivering messages from the outbox."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction

from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)


def outbox_enqueue_email(
    *, to: str, subject: str, body: str, now: datetime, organisation: Organisation | None = None
) -> OutboxMessage:
    """Queue an e-mail in the caller's transaction: it is sent only if that transaction commits.

    The body must not contain My Number or other 特定個人情報; link to the my page instead.
    """
    return OutboxMessage.objects.create(
        created_at=now,
        available_at=now,
        organisation=organisation,
        topic=OutboxMessage.Topic.EMAIL,
        payload={"to": to, "subject": subject[:200], "body": body},
    )


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** min(attempts, 12)), MAX_BACKOFF)


def outbox_deliver_email(*, now: datetime, limit: int = 100) -> DeliveryReport:
    """Send due e-mails; a failure is retried later with exponential backoff (max 1 hour).

    Delivery is at least once: a crash between sending and recording can send a mail twice,
    never zero times. Rows are locked (SKIP LOCKED on PostgreSQL) so that several workers
    can run side by side. Logs carry message ids, never addresses or contents.
    """
    delivered = failed = 0
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                topic=OutboxMessage.Topic.EMAIL, delivered_at__isnull=True, available_at__lte=now
            )
            .order_by("available_at", "id")[:limit]
        )
        if not rows:
            return DeliveryReport(0, 0)
        connection = mailers.default
        for row in rows:
            payload = row.payload
            message = EmailMessage(
                subject=payload["subject"],
                body=payload["body"],
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[payload["to"]],
            )
            row.attempts += 1
            try:
                # One SMTP connection for the batch: sent through the backend directly.
                connection.send_messages([message])
            except Exception as error:  # any transport error: retry later
                row.last_error = f"{type(error).__name__}: {error}"[:500]
                row.available_at = now + _backoff(row.attempts)
                failed += 1
                logger.warning(
                    "mail %s not sent (attempt %s): %s", row.pk, row.attempts, type(error).__name__
                )
            else:
                row.delivered_at = now
                row.last_error = ""
                delivered += 1
            row.save(update_fields=["attempts", "last_error", "available_at", "delivered_at"])
        # Closing a broken connection must not lose the delivery records written above.
        with contextlib.suppress(Exception):
            connection.close()
    return DeliveryReport(delivered, failed)
