"""Counts of procedures by channel, per organisation × procedure × month (オンライン利用率)."""

from __future__ import annotations

from django.db import models

from madoguchi.catalog.models import Procedure
from madoguchi.tenants.models import Organisation


class Channel(models.TextChoices):
    ONLINE = "online", "オンライン"
    COUNTER = "counter", "窓口"
    MAIL = "mail", "郵送"


class ChannelCount(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    month = models.DateField("月（1日）")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "経路別件数"
        verbose_name_plural = "経路別件数"
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "procedure", "month", "channel"),
                name="channel_count_unique",
            ),
        )

    def __str__(self) -> str:
        return f"{self.organisation_id}/{self.procedure_id}/{self.month:%Y-%m}/{self.channel}: {self.count}"
