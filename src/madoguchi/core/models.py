"""Base models shared by every app."""

from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    """Rows that remember when they were created and last changed (UTC)."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
