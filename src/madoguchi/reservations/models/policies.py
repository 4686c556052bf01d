"""取消しと還付の決まり (refund schedule): how much of a paid fee comes back when a booking is
cancelled, by how many days before the day of use.

A facility lists steps such as 「7日前まで100%」「前日まで50%」「当日0%」. A cancellation
``d`` days before the day of use (calendar days in Japan; 0 is the day itself) refunds the
percent of the step with the largest ``days_before`` not above ``d``; with no such step (or no
steps at all) nothing is refunded, which the portal says plainly.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models

from madoguchi.reservations.models.facilities import Facility
from madoguchi.tenants.models import Organisation


class RefundRule(models.Model):
    """One step of a facility's refund schedule: cancelled at least ``days_before`` days before
    the day of use, ``percent`` of the paid fee is refunded."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="refund_rules")
    days_before = models.PositiveSmallIntegerField("利用日の何日前まで")
    percent = models.PositiveSmallIntegerField(
        "還付の割合（%）", validators=[MaxValueValidator(100)]
    )

    class Meta:
        verbose_name = "還付の決まり"
        verbose_name_plural = "還付の決まり"
        ordering = ("facility", "-days_before")
        constraints = (
            models.UniqueConstraint(
                fields=("facility", "days_before"), name="refund_rule_days_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(percent__lte=100), name="refund_rule_percent_max"
            ),
        )

    def __str__(self) -> str:
        return f"{self.days_before}日前まで{self.percent}%"
