"""施設: facilities, what can be booked in them (rooms, courts, a divisible hall and its
parts) and their time slots (コマ) per day type."""

from __future__ import annotations

from django.db import models

from madoguchi.catalog.models import Procedure
from madoguchi.core.models import TimeStampedModel
from madoguchi.reservations.constants import DayType, Eligibility, FacilityCategory, ResourceKind
from madoguchi.tenants.models import Organisation


class Facility(TimeStampedModel):
    """A building (or a park, a school gym) of an organisation, with its rules."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField("施設名", max_length=100)
    kana = models.CharField("よみ", max_length=200, blank=True)
    category = models.CharField(
        "分類", max_length=16, choices=FacilityCategory.choices, default=FacilityCategory.SPORTS
    )
    address = models.CharField("所在地", max_length=200, blank=True)
    phone = models.CharField("電話番号", max_length=20, blank=True)
    description = models.TextField("説明", blank=True)
    #: The rules shown to residents in plain Japanese (利用の決まり).
    rules = models.TextField("利用の決まり", blank=True)
    #: The procedure a confirmed booking counts as (施設予約 of the channel statistics).
    procedure = models.ForeignKey(
        Procedure, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: Identity assurance a booking needs (1–3; see ``identity.assurance``).
    ial = models.PositiveSmallIntegerField("身元確認保証レベル", default=1)
    aal = models.PositiveSmallIntegerField("当人認証保証レベル", default=1)
    eligibility = models.CharField(
        "利用できる人", max_length=16, choices=Eligibility.choices, default=Eligibility.LOCAL
    )
    #: 団体利用: a group needs at least this many members (0: individuals may book too).
    min_group_members = models.PositiveSmallIntegerField("団体の最少人数", default=0)
    group_only = models.BooleanField("団体のみ", default=False)
    published = models.BooleanField("公開", default=False)
    #: 定休日: weekdays (0 = Monday … 6 = Sunday) the facility is closed. When one falls on a
    #: national holiday the facility opens that day and closes the next weekday instead.
    closed_weekdays = models.JSONField("定休日（曜日）", default=list, blank=True)
    #: 無断不使用 (no-show): the registration may not book for this many days.
    no_show_suspension_days = models.PositiveSmallIntegerField(
        "無断不使用による利用停止の日数", default=30
    )

    class Meta:
        verbose_name = "施設"
        verbose_name_plural = "施設"
        ordering = ("organisation", "name", "id")
        constraints = (
            models.UniqueConstraint(fields=("organisation", "name"), name="facility_name_unique"),
        )

    def __str__(self) -> str:
        return self.name


class Resource(TimeStampedModel):
    """Something booked by the slot: a room, a court, a hall. A divisible hall is a resource
    with children (its halves); booking the whole claims every part, booking a part claims that
    part, so that the two can never both be booked (see ``Claim``)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="resources")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="parts"
    )
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("種類", max_length=16, choices=ResourceKind.choices)
    capacity = models.PositiveIntegerField("定員", default=0)
    equipment = models.TextField("設備", blank=True)
    order = models.PositiveIntegerField("表示順", default=0)
    active = models.BooleanField("利用可", default=True)

    class Meta:
        verbose_name = "施設の部屋・コート"
        verbose_name_plural = "施設の部屋・コート"
        ordering = ("facility", "order", "id")
        constraints = (
            models.UniqueConstraint(fields=("facility", "name"), name="resource_name_unique"),
        )

    def __str__(self) -> str:
        return self.name


class TimeBand(models.Model):
    """コマ: one time slot of a day type (e.g. 午前 9:00–12:00 on weekdays). A facility's bands
    of one day type never overlap and never cross midnight; every resource of the facility
    uses the same bands, so a hall and its halves are booked by the same コマ."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="time_bands")
    day_type = models.CharField("曜日区分", max_length=16, choices=DayType.choices)
    name = models.CharField("名称", max_length=32)
    start = models.TimeField("開始")
    end = models.TimeField("終了")

    class Meta:
        verbose_name = "コマ"
        verbose_name_plural = "コマ"
        ordering = ("facility", "day_type", "start")
        constraints = (
            models.UniqueConstraint(
                fields=("facility", "day_type", "start"), name="time_band_start_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="time_band_order"
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} {self.start:%H:%M}–{self.end:%H:%M}"
