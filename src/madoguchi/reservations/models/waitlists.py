"""キャンセル待ち (waitlist): residents waiting for a taken slot.

When the slot is freed (a cancellation, an expired hold or offer, a staff override), one
waiting entry is chosen at random and offered the slot for a limited time (an OFFERED booking
that holds the slot's claims); see :mod:`madoguchi.reservations.waitlist`.
"""

from __future__ import annotations

from django.db import models

from madoguchi.identity.models import User
from madoguchi.reservations.constants import WaitlistStatus
from madoguchi.reservations.models.bookings import Booking, Slot
from madoguchi.reservations.models.registrations import Registration
from madoguchi.tenants.models import Organisation


class WaitlistEntry(models.Model):
    """One registration waiting for one slot. At most one open (waiting or offered) entry per
    registration and slot, by a database constraint."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="waitlist")
    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        "状態", max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    created_at = models.DateTimeField("登録日時")
    offered_at = models.DateTimeField("案内日時", null=True, blank=True)
    #: The OFFERED booking made for this entry when the slot was freed.
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "キャンセル待ち"
        verbose_name_plural = "キャンセル待ち"
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("slot", "registration"),
                condition=models.Q(status__in=("waiting", "offered")),
                name="waitlist_open_unique",
            ),
        )
        indexes = (models.Index(fields=("slot", "status"), name="waitlist_slot_status"),)

    def __str__(self) -> str:
        return f"{self.slot_id}:{self.status}"
