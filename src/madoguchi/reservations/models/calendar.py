"""休館日・使用料・減免: the calendar and the money side of a facility — days it is closed,
the fee of each resource per コマ, and the reductions (減免) it grants."""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models

from madoguchi.reservations.models.facilities import Facility, Resource, TimeBand
from madoguchi.tenants.models import Organisation


class ClosedDay(models.Model):
    """休館日: one date a facility is closed (on top of its closed weekdays). No slots are
    generated for it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField("休館日")
    reason = models.CharField("理由", max_length=100, blank=True)

    class Meta:
        verbose_name = "休館日"
        verbose_name_plural = "休館日"
        ordering = ("facility", "date")
        constraints = (
            models.UniqueConstraint(fields=("facility", "date"), name="closed_day_unique"),
        )

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"


class Fee(models.Model):
    """使用料: what one コマ of one resource costs, in yen, before reductions."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="fees")
    band = models.ForeignKey(TimeBand, on_delete=models.CASCADE, related_name="fees")
    amount = models.PositiveIntegerField("使用料（円）")

    class Meta:
        verbose_name = "使用料"
        verbose_name_plural = "使用料"
        ordering = ("resource", "band")
        constraints = (models.UniqueConstraint(fields=("resource", "band"), name="fee_unique"),)

    def __str__(self) -> str:
        return f"{self.amount}円"


class Reduction(models.Model):
    """減免: a reduction of the fee a facility grants (e.g. 障害者減免 100%, 市内団体減免 50%),
    and the proof it needs, shown to residents and checked by staff."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="reductions")
    code = models.SlugField("区分コード", max_length=32)
    name = models.CharField("名称", max_length=100)
    percent = models.PositiveSmallIntegerField(
        "減額の割合（%）", validators=[MaxValueValidator(100)]
    )
    #: What proof is needed (障害者手帳の提示 …), in plain Japanese.
    note = models.CharField("必要な確認書類", max_length=300, blank=True)
    active = models.BooleanField("利用可", default=True)

    class Meta:
        verbose_name = "減免"
        verbose_name_plural = "減免"
        ordering = ("facility", "code")
        constraints = (
            models.UniqueConstraint(fields=("facility", "code"), name="reduction_unique"),
            models.CheckConstraint(
                condition=models.Q(percent__lte=100), name="reduction_percent_max"
            ),
        )

    def __str__(self) -> str:
        return self.name
