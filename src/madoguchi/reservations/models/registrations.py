"""利用者登録: who may book — an individual, or a group with its 代表者 and members."""

from __future__ import annotations

from django.db import models

from madoguchi.core.models import TimeStampedModel
from madoguchi.identity.models import Staff, User
from madoguchi.reservations.constants import RegistrationKind, RegistrationStatus, Residency
from madoguchi.tenants.models import Organisation


class Registration(TimeStampedModel):
    """A user registration (利用者登録) with one organisation: the person (or the group's
    代表者) who books, and the registration number shown on the card and the permit."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    #: The account that books (for a group: its 代表者). Null for a counter-only registration.
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField("種別", max_length=16, choices=RegistrationKind.choices)
    number = models.CharField("利用者番号", max_length=16)
    #: The person's or the group's name as shown to staff (personal data: never in logs).
    name = models.CharField("氏名・団体名", max_length=100)
    #: 在住・在勤・在学 of the person (for a group: of its 代表者; members are listed apart).
    residency = models.CharField(
        "市との関係", max_length=16, choices=Residency.choices, default=Residency.RESIDENT
    )
    status = models.CharField(
        "状態",
        max_length=16,
        choices=RegistrationStatus.choices,
        default=RegistrationStatus.PENDING,
    )
    #: 窓口で確認した職員 (when staff confirmed the registration at the counter).
    confirmed_by = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField("確認日時", null=True, blank=True)
    #: 利用停止: no booking or lottery entry until this moment (a no-show penalty).
    suspended_until = models.DateTimeField("利用停止の期限", null=True, blank=True)

    class Meta:
        verbose_name = "利用者登録"
        verbose_name_plural = "利用者登録"
        ordering = ("organisation", "number")
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "number"), name="registration_number_unique"
            ),
        )

    def __str__(self) -> str:
        return self.number
