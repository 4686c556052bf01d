"""Reads for the staff API and the webhooks, always scoped by the organisation.

The staff API's list is the console's inbox selector
(:func:`madoguchi.applications.inbox.inbox_page`), with its one cursor format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.files.storage import storages
from django.db.models import Count, Min, Q

from madoguchi.applications.models import Application
from madoguchi.core.storage import storage_bytes_used
from madoguchi.core.tenancy import ALL, tenant_scope
from madoguchi.integrations.models import WebhookDelivery
from madoguchi.notifications.selectors import MailBacklog, mail_backlog
from madoguchi.tenants.models import Organisation


def staff_application_get(*, organisation: Organisation, application_id: int) -> Application:
    """One application of ``organisation``; another organisation's id raises DoesNotExist,
    and so does an operational-test application (運用テスト): the staff API, which core
    systems read, neither lists nor answers them."""
    return Application.objects.select_related("procedure", "form_version", "organisation").get(
        organisation=organisation, pk=application_id, is_test=False
    )


@dataclass(frozen=True)
class ApplicationReference:
    receipt_number: str
    lg_code: str
    is_test: bool = False


def application_reference(*, application_id: int) -> ApplicationReference:
    """What a webhook payload names an application by (no personal data)."""
    receipt_number, lg_code, is_test = Application.objects.values_list(
        "receipt_number", "organisation__lg_code", "is_test"
    ).get(pk=application_id)
    return ApplicationReference(receipt_number=receipt_number, lg_code=lg_code, is_test=is_test)


@dataclass(frozen=True)
class WebhookBacklog:
    """Webhook deliveries not yet delivered (pending or failed and due again), the oldest's
    creation time, and those given up after their last attempt (再送を終了)."""

    pending: int
    oldest_at: datetime | None
    gave_up: int

    def oldest_age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_at).total_seconds()) if self.oldest_at else 0.0


def webhook_backlog() -> WebhookBacklog:
    """One aggregate query over every organisation's deliveries (for the platform's operators:
    counts only, nothing of any organisation's content)."""
    waiting = Q(status__in=(WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED))
    row = WebhookDelivery.objects.aggregate(
        pending=Count("id", filter=waiting),
        oldest=Min("created_at", filter=waiting),
        gave_up=Count("id", filter=Q(status=WebhookDelivery.Status.GAVE_UP)),
    )
    return WebhookBacklog(
        pending=row["pending"] or 0, oldest_at=row["oldest"], gave_up=row["gave_up"] or 0
    )


@dataclass(frozen=True)
class SystemHealth:
    """The platform's state for its operators: the outbox (mail and webhooks) and storage."""

    mail: MailBacklog
    webhooks: WebhookBacklog
    #: (bytes, files, stopped counting) under the local storage folder; None: object storage.
    storage: tuple[int, int, bool] | None
    now: datetime

    @property
    def mail_oldest_age_seconds(self) -> float:
        return self.mail.oldest_age_seconds(self.now)

    @property
    def webhooks_oldest_age_seconds(self) -> float:
        return self.webhooks.oldest_age_seconds(self.now)


def system_health(*, now: datetime) -> SystemHealth:
    """The platform's health, whoever asks: two aggregate queries over every organisation
    (counts only, no content) and, for local storage, a walk of the files folder (bounded).
    Read under the platform-wide database scope, so a group operator's console and SQLite
    show the same numbers as the platform's operators."""
    with tenant_scope(ALL):
        return SystemHealth(
            mail=mail_backlog(),
            webhooks=webhook_backlog(),
            storage=storage_bytes_used(storages["default"]),
            now=now,
        )
