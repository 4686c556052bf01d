"""Base models shared by every app."""

from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    """Rows that remember when they were created and last changed (UTC)."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Installation(models.Model):
    """This installation's identity: one row, made at first use (``core.installation``).

    A backup carries the id, so that a restore recognises a backup of another installation.
    It is not made by a migration: a fresh machine, migrated or not, has no id until it is
    first used, so a disaster recovery onto it is not mistaken for a mix-up.
    """

    #: Always 1: the table holds one row (a check constraint says so).
    singleton = models.PositiveSmallIntegerField(primary_key=True, default=1)
    installation_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "インストール"
        verbose_name_plural = "インストール"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(singleton=1), name="installation_is_a_singleton"
            ),
        )

    def __str__(self) -> str:
        return str(self.installation_id)
