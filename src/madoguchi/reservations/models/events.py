"""イベント・講座: events and courses residents sign up for, first come (a numbered seat each,
so that the last seat can never be given twice) or by a verifiable lottery.

A first-come signup takes a seat by inserting ``seat`` under the unique constraint
(event, seat): two residents racing for the last seat both try the insert and the database
lets exactly one of them in (see :mod:`madoguchi.reservations.events`). A lottery entry has
no seat until the draw gives one to each winner.
"""

from __future__ import annotations

from django.db import models

from madoguchi.core.models import TimeStampedModel
from madoguchi.identity.models import User
from madoguchi.reservations.models.facilities import Facility
from madoguchi.reservations.models.registrations import Registration
from madoguchi.tenants.models import Organisation


class EventMode(models.TextChoices):
    FIRST_COME = "first_come", "先着順"
    LOTTERY = "lottery", "抽選"


class SignupStatus(models.TextChoices):
    #: Lottery entry waiting for the draw.
    ENTERED = "entered", "抽選待ち"
    CONFIRMED = "confirmed", "参加確定"
    #: Full (first come) — waiting for a seat to be freed.
    WAITLISTED = "waitlisted", "キャンセル待ち"
    LOST = "lost", "落選"
    CANCELLED = "cancelled", "取消し"


class Event(TimeStampedModel):
    """An event or a course (講座) of an organisation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    title = models.CharField("名称", max_length=100)
    description = models.TextField("内容", blank=True)
    #: The rules shown to residents in plain Japanese (参加の決まり).
    rules = models.TextField("参加の決まり", blank=True)
    venue = models.CharField("会場", max_length=200, blank=True)
    facility = models.ForeignKey(
        Facility, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField("開始日時")
    ends_at = models.DateTimeField("終了日時")
    capacity = models.PositiveIntegerField("定員")
    signup_opens_at = models.DateTimeField("申込の受付開始")
    signup_closes_at = models.DateTimeField("申込の締切")
    mode = models.CharField(
        "申込の方法", max_length=16, choices=EventMode.choices, default=EventMode.FIRST_COME
    )
    #: 先着: when full, later signups wait for a freed seat instead of being refused.
    waitlist = models.BooleanField("キャンセル待ちを受け付ける", default=False)
    #: 参加費 in yen (0: free).
    fee = models.PositiveIntegerField("参加費（円）", default=0)
    published = models.BooleanField("公開", default=False)
    #: Lottery: SHA-256 commitment of the seed, published while entries are open.
    draw_commitment = models.CharField(max_length=64, blank=True)
    #: Lottery: the seed, kept secret until the draw, then published.
    draw_seed = models.CharField(max_length=64, blank=True)
    draw_digest = models.CharField(max_length=64, blank=True)
    drawn_at = models.DateTimeField("抽選日時", null=True, blank=True)
    reminder_sent_at = models.DateTimeField("前日のお知らせの送信日時", null=True, blank=True)

    class Meta:
        verbose_name = "イベント・講座"
        verbose_name_plural = "イベント・講座"
        ordering = ("organisation", "starts_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="event_time_order"
            ),
            models.CheckConstraint(
                condition=models.Q(signup_closes_at__gt=models.F("signup_opens_at")),
                name="event_signup_window_order",
            ),
        )

    def __str__(self) -> str:
        return self.title


class EventSignup(TimeStampedModel):
    """One resident's signup (party of one) to an event."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="signups")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    registration = models.ForeignKey(
        Registration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField("氏名", max_length=50)
    email = models.EmailField("連絡先メールアドレス")
    party_size = models.PositiveSmallIntegerField("人数", default=1)
    status = models.CharField("状態", max_length=16, choices=SignupStatus.choices)
    #: The seat of a confirmed signup (0 … capacity-1); null otherwise. Unique per event.
    seat = models.PositiveIntegerField("席番号", null=True, blank=True)
    #: Public random code: the lottery entry code, and what is shown at the door.
    code = models.CharField("受付番号", max_length=16)
    confirmed_at = models.DateTimeField("参加確定日時", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消日時", null=True, blank=True)
    checked_in_at = models.DateTimeField("受付日時", null=True, blank=True)

    class Meta:
        verbose_name = "イベント・講座の申込"
        verbose_name_plural = "イベント・講座の申込"
        ordering = ("event", "created_at", "id")
        constraints = (
            models.UniqueConstraint(fields=("event", "seat"), name="event_signup_seat_unique"),
            models.UniqueConstraint(fields=("event", "code"), name="event_signup_code_unique"),
            # One live signup per user per event (a cancelled one may be followed by another).
            models.UniqueConstraint(
                fields=("event", "user"),
                condition=~models.Q(status="cancelled"),
                name="event_signup_once",
            ),
        )

    def __str__(self) -> str:
        return self.code
