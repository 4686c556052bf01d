"""The outbox: messages written in the same transaction as the change they announce, and
delivered after commit, retried until delivered."""

from __future__ import annotations

from django.db import models

from madoguchi.tenants.models import Organisation


class OutboxMessage(models.Model):
    class Topic(models.TextChoices):
        EMAIL = "email", "メール"
        WEBHOOK = "webhook", "Webhook"

    created_at = models.DateTimeField()
    available_at = models.DateTimeField(db_index=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    topic = models.CharField(max_length=16, choices=Topic.choices)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "送信待ち"
        verbose_name_plural = "送信待ち"
        indexes = (
            models.Index(
                fields=("topic", "available_at"),
                condition=models.Q(delivered_at__isnull=True),
                name="outbox_due",
            ),
        )

    def __str__(self) -> str:
        return f"{self.topic}#{self.pk}"
