"""Hand-over to other systems: webhook endpoints and their delivery log."""

from __future__ import annotations

from django.db import models

from madoguchi.tenants.models import Organisation


class WebhookEndpoint(models.Model):
    """An organisation's receiver of application events, signed per Standard Webhooks."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField("送信先URL", max_length=500)
    #: ``whsec_`` secret, encrypted with the application keys (never stored in the clear).
    secret_encrypted = models.TextField()
    events = models.JSONField("送る出来事", default=list)
    description = models.CharField("説明", max_length=200, blank=True)
    active = models.BooleanField("有効", default=True)
    created_at = models.DateTimeField()
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Webhookの送信先"
        verbose_name_plural = "Webhookの送信先"

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: attempts, last answer, and when it was delivered."""

    class Status(models.TextChoices):
        PENDING = "pending", "送信待ち"
        DELIVERED = "delivered", "送信済み"
        FAILED = "failed", "失敗（再送予定）"
        GAVE_UP = "gave_up", "再送を終了"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    available_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Webhookの送信記録"
        verbose_name_plural = "Webhookの送信記録"
        indexes = (
            models.Index(fields=("status", "available_at"), name="webhook_due"),
            models.Index(fields=("endpoint", "-created_at"), name="webhook_log"),
        )

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"
