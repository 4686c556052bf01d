"""Append-only audit events: who saw or changed what, when, and why. Never personal data."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from madoguchi.audit.constants import AuditAction
from madoguchi.tenants.models import Organisation


class AppendOnlyError(RuntimeError):
    """An audit event was about to be changed or deleted."""


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField("日時", db_index=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField("操作者", max_length=200, blank=True)
    action = models.CharField("操作", max_length=64, db_index=True, choices=AuditAction.choices)
    target_type = models.CharField("対象の種類", max_length=64, blank=True)
    target_id = models.CharField("対象", max_length=64, blank=True)
    reason = models.CharField("理由", max_length=500, blank=True)
    detail = models.JSONField("詳細", default=dict)

    class Meta:
        verbose_name = "監査記録"
        verbose_name_plural = "監査記録"
        ordering = ("-occurred_at", "-id")
        indexes = (models.Index(fields=("organisation", "-occurred_at")),)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(action__in=AuditAction.values), name="audit_action_known"
            ),
        )

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("監査記録は変更できません。")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("監査記録は削除できません。")
