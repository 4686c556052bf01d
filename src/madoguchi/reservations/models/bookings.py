"""枠と予約: bookable slots, bookings, the claims that make double booking impossible, and
each facility's public log.

**No double booking, by the database.** A booking inserts one :class:`Claim` per *part* slot
it occupies — the slot itself, or for a divisible hall every part's slot at the same time —
and one per seat for slots with a capacity. ``Claim`` has a unique constraint on
``(slot, seat)``: of two bookings racing for the same part or the last seat, the database lets
exactly one insert succeed (on SQLite and PostgreSQL alike); the other's transaction rolls back
and its caller is told the slot is taken. A booking that ends (cancelled, expired) deletes its
claims in the same transaction, which frees the slot.
"""

from __future__ import annotations

from django.db import models

from madoguchi.core.models import TimeStampedModel
from madoguchi.identity.models import Staff, User
from madoguchi.reservations.constants import (
    BookingSource,
    BookingStatus,
    Channel,
    LogKind,
    PaymentStatus,
    SlotState,
)
from madoguchi.reservations.models.facilities import Facility, Resource, TimeBand
from madoguchi.reservations.models.registrations import Registration
from madoguchi.tenants.models import Organisation


class Slot(models.Model):
    """One bookable period of one resource (a コマ on a date). ``capacity`` is 1 for a room
    or court (one booking takes it); more for a slot sold by the seat (a pool's lane hour)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="slots")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="slots")
    band = models.ForeignKey(
        TimeBand, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    date = models.DateField("利用日")
    starts_at = models.DateTimeField("開始")
    ends_at = models.DateTimeField("終了")
    state = models.CharField("受付", max_length=16, choices=SlotState.choices)
    capacity = models.PositiveIntegerField("定員", default=1)
    #: 使用料 before reductions, in yen, fixed when the slot is made.
    fee = models.PositiveIntegerField("使用料", default=0)
    #: When a slot released after a lottery opens to first come (never at once: see lottery).
    opens_at = models.DateTimeField("先着受付の開始", null=True, blank=True)

    class Meta:
        verbose_name = "予約枠"
        verbose_name_plural = "予約枠"
        ordering = ("facility", "starts_at", "resource")
        constraints = (
            models.UniqueConstraint(fields=("resource", "starts_at"), name="slot_unique"),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="slot_order"
            ),
        )
        indexes = (models.Index(fields=("facility", "date"), name="slot_facility_date"),)

    def __str__(self) -> str:
        return f"{self.resource_id}@{self.starts_at:%Y-%m-%d %H:%M}"


class Booking(TimeStampedModel):
    """A reservation of one slot by one registration (or at the counter, for someone)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="bookings")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    #: 予約番号, unique per organisation (shown on the permit and in mails).
    number = models.CharField("予約番号", max_length=24)
    registration = models.ForeignKey(
        Registration, on_delete=models.PROTECT, null=True, blank=True, related_name="bookings"
    )
    #: The account that booked online (None for a counter booking without an account).
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField("状態", max_length=16, choices=BookingStatus.choices)
    source = models.CharField("受付方法", max_length=16, choices=BookingSource.choices)
    channel = models.CharField("経路", max_length=16, choices=Channel.choices)
    #: The staff member who booked at the counter or by phone (窓口・電話).
    booked_by = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: 利用者の連絡先 for a counter booking without a registration (personal data).
    contact = models.CharField("連絡先", max_length=200, blank=True)
    purpose = models.CharField("利用目的", max_length=200, blank=True)
    #: A held booking ends at this moment unless confirmed; an offered one must be confirmed
    #: by it.
    expires_at = models.DateTimeField("確定の期限", null=True, blank=True)
    confirmed_at = models.DateTimeField("確定日時", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消日時", null=True, blank=True)
    cancel_reason = models.CharField("取消しの理由", max_length=200, blank=True)
    fee = models.PositiveIntegerField("使用料", default=0)
    #: The reduction applied (減免), its code and the fee after it.
    reduction = models.CharField("減免", max_length=32, blank=True)
    fee_due = models.PositiveIntegerField("納付額", default=0)
    payment = models.CharField(
        "納付状況", max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    refund = models.PositiveIntegerField("還付額", default=0)
    #: The client's Idempotency-Key (a replayed request returns this booking).
    idempotency_key = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "予約"
        verbose_name_plural = "予約"
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "number"), name="booking_number_unique"
            ),
            models.UniqueConstraint(
                fields=("user", "idempotency_key"),
                condition=~models.Q(idempotency_key=""),
                name="booking_idempotency_unique",
            ),
        )
        indexes = (
            models.Index(fields=("organisation", "status", "confirmed_at"), name="booking_stats"),
            models.Index(fields=("status", "expires_at"), name="booking_expiry"),
        )

    def __str__(self) -> str:
        return self.number


class Claim(models.Model):
    """One part slot (and seat) held by one active booking. The unique constraint is the rule
    that no slot is ever booked twice."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="claims")
    seat = models.PositiveIntegerField(default=0)
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="claims")

    class Meta:
        verbose_name = "予約枠の占有"
        verbose_name_plural = "予約枠の占有"
        constraints = (models.UniqueConstraint(fields=("slot", "seat"), name="claim_unique"),)

    def __str__(self) -> str:
        return f"{self.slot_id}#{self.seat}"


class FacilityLogEntry(models.Model):
    """施設の公開記録: each release, cancellation, expiry and staff override of a slot — when,
    which slot, by which rule. Public, so it holds no personal data and no booking number."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="log")
    slot = models.ForeignKey(
        Slot, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField("日時")
    kind = models.CharField("種類", max_length=16, choices=LogKind.choices)
    #: The rule in plain Japanese (「確定期限までに確定されなかったため」「職員による変更: 理由」).
    rule = models.CharField("理由", max_length=300)

    class Meta:
        verbose_name = "施設の公開記録"
        verbose_name_plural = "施設の公開記録"
        ordering = ("-at", "-id")
        indexes = (models.Index(fields=("facility", "at"), name="facility_log_at"),)

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"
