"""Queueing and delivering messages from the outbox.

Mail that an unauthenticated client can trigger is rate-limited here, once for every caller:
see :mod:`madoguchi.notifications.ratelimit` for the rule.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.tasks import task

from madoguchi.core.metrics import MAIL_DELIVERIES, RATE_LIMITED
from madoguchi.core.tasks import enqueue_on_commit
from madoguchi.core.time import now as clock
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.ratelimit import (
    CLIENT_LIMITS,
    RECIPIENT_LIMITS,
    MailRateLimited,
    client_key,
    recipient_key,
    window_label,
)
from madoguchi.tenants.models import Organisation

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
#: Mails one delivery call sends at most, and ids handed to one task.
DELIVERY_BATCH = 100
#: How long a claimed mail is kept from other workers: longer than one SMTP exchange (20 s
#: per operation). A worker killed while sending leaves that one mail, sent again after this.
MAIL_LEASE = timedelta(minutes=2)


def _check_limit(
    *, field: str, key: str, limits: tuple[tuple[timedelta, int], ...], whom: str, now: datetime
) -> None:
    longest = max(window for window, _ in limits)
    recent = list(
        OutboxMessage.objects.filter(
            topic=OutboxMessage.Topic.EMAIL, created_at__gt=now - longest, **{field: key}
        )
        .exclude(**{field: ""})  # the partial index's own condition, so that it is used
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: max(most for _, most in limits)]
    )
    refusals: list[tuple[datetime, str]] = []
    for window, most in limits:
        inside = [at for at in recent if at > now - window]
        if len(inside) >= most:
            # Free again when the oldest of the `most` latest mails leaves the window.
            refusals.append((inside[most - 1] + window, window_label(window, most, whom)))
    if refusals:
        retry_at, label = max(refusals)
        RATE_LIMITED.labels(f"mail.{field.removesuffix('_key')}").inc()  # mail.recipient/client
        raise MailRateLimited(limit=label, retry_at=retry_at, now=now)


def outbox_enqueue_email(
    *,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    organisation: Organisation | None = None,
    client_address: str | None = None,
) -> OutboxMessage:
    """Queue an e-mail in the caller's transaction: it is sent only if that transaction commits.

    ``client_address`` (the IP address of whoever asked) marks a mail that an unauthenticated
    client *requested* (a confirmation link, a password reset): it is counted and refused
    beyond the limits of :mod:`madoguchi.notifications.ratelimit`, raising ``MailRateLimited``
    (nothing queued). Without it the mail is one the platform must send (a receipt, a
    decision) and is never refused. The body must not contain My Number or other
    特定個人情報; link to the my page instead.
    """
    to_key = client = ""
    if client_address is not None:
        to_key, client = recipient_key(to), client_key(client_address)
        _check_limit(
            field="recipient_key",
            key=to_key,
            limits=RECIPIENT_LIMITS,
            whom="同じメールアドレスへは",
            now=now,
        )
        _check_limit(
            field="client_key",
            key=client,
            limits=CLIENT_LIMITS,
            whom="同じ接続元からは",
            now=now,
        )
    message = OutboxMessage.objects.create(
        created_at=now,
        available_at=now,
        organisation=organisation,
        topic=OutboxMessage.Topic.EMAIL,
        payload={"to": to, "subject": subject[:200], "body": body},
        recipient_key=to_key,
        client_key=client,
    )
    enqueue_on_commit(outbox_deliver_task, [message.pk])
    return message


def outbox_enqueue_emails(
    *,
    mails: Iterable[tuple[str, str, str]],
    now: datetime,
    organisation: Organisation | None = None,
) -> int:
    """Queue many e-mails ``(to, subject, body)`` the platform must send (results of a
    lottery to every entrant …) in the caller's transaction, in bulk inserts. Never refused,
    not rate-limited (like :func:`outbox_enqueue_email` without ``client_address``).
    Returns how many were queued."""
    rows = [
        OutboxMessage(
            created_at=now,
            available_at=now,
            organisation=organisation,
            topic=OutboxMessage.Topic.EMAIL,
            payload={"to": to, "subject": subject[:200], "body": body},
            recipient_key="",
            client_key="",
        )
        for to, subject, body in mails
    ]
    OutboxMessage.objects.bulk_create(rows, batch_size=1000)
    ids = [row.pk for row in rows if row.pk is not None]  # SQLite and PostgreSQL return them
    for start in range(0, len(ids), DELIVERY_BATCH):
        enqueue_on_commit(outbox_deliver_task, ids[start : start + DELIVERY_BATCH])
    return len(rows)


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** min(attempts, 12)), MAX_BACKOFF)


def _claim(
    now: datetime, lease: timedelta, ids: Sequence[int] | None = None
) -> OutboxMessage | None:
    """Take the next due mail (of ``ids`` when given): locked (SKIP LOCKED on PostgreSQL, so
    several workers split the work), leased by moving ``available_at`` to ``now + lease``,
    and committed at once."""
    with transaction.atomic():
        due = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            topic=OutboxMessage.Topic.EMAIL, delivered_at__isnull=True, available_at__lte=now
        )
        if ids is not None:
            due = due.filter(pk__in=list(ids))
        row = due.order_by("available_at", "id").first()
        if row is not None:
            OutboxMessage.objects.filter(pk=row.pk).update(available_at=now + lease)
    return row


def outbox_deliver_email(
    *, now: datetime, limit: int = DELIVERY_BATCH, ids: Sequence[int] | None = None
) -> DeliveryReport:
    """Send due e-mails; a failure is retried later with exponential backoff (max 1 hour).

    Delivery is at least once: each mail is claimed (leased for :data:`MAIL_LEASE`, so that
    several workers can run side by side) just before it is sent, and its delivery recorded
    right after, each in its own short transaction. A worker killed mid-way, or a database
    restart, sends again only the one mail in flight, once its lease ends — never a whole
    batch, never zero. Logs carry message ids, never addresses or contents. ``ids`` limits
    the delivery to those rows (the task that follows a commit); a row another worker holds or
    already delivered is skipped, so the task and the sweep never send it twice.
    """
    delivered = failed = 0
    connection = mailers.default
    started = time.monotonic()
    try:
        for _ in range(limit):
            # Leased from when its turn comes (``now`` plus the time this call has taken).
            row = _claim(now, timedelta(seconds=time.monotonic() - started) + MAIL_LEASE, ids)
            if row is None:
                break
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
                row.available_at = now
                row.last_error = ""
                delivered += 1
            row.save(update_fields=["attempts", "last_error", "available_at", "delivered_at"])
    finally:
        # Closing a broken connection must not hide what was recorded above.
        with contextlib.suppress(Exception):
            connection.close()
    # Mail is retried without end (hourly at most): a failed attempt is a "retry".
    MAIL_DELIVERIES.labels("sent").inc(delivered)
    MAIL_DELIVERIES.labels("retry").inc(failed)
    return DeliveryReport(delivered, failed)


@task()
def outbox_deliver_task(message_ids: list[int]) -> int:
    """Deliver the given outbox mails now (Django Tasks on Redis, enqueued after the commit
    that queued them). Returns how many were sent; the rest stay for the sweep's retries."""
    return outbox_deliver_email(now=clock(), ids=message_ids).delivered
