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
    #: Keyed hashes of the recipient and of the requesting client, set only for mail that an
    #: unauthenticated client requested (counted by ``notifications.ratelimit``); else "".
    recipient_key = models.CharField(max_length=64, blank=True, default="")
    client_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "送信待ち"
        verbose_name_plural = "送信待ち"
        indexes = (
            models.Index(
                fields=("topic", "available_at"),
                condition=models.Q(delivered_at__isnull=True),
                name="outbox_due",
            ),
            models.Index(
                fields=("recipient_key", "created_at"),
                condition=~models.Q(recipient_key=""),
                name="outbox_requested_recipient",
            ),
            models.Index(
                fields=("client_key", "created_at"),
                condition=~models.Q(client_key=""),
                name="outbox_requested_client",
            ),
        )

    def __str__(self) -> str:
        return f"{self.topic}#{self.pk}"
