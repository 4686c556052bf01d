"""Statuses, kinds and rules of reservations, each an enum held as a database choice."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.db import models


class FacilityCategory(models.TextChoices):
    """施設の分類: lottery entry windows and caps are set per category."""

    SPORTS = "sports", "スポーツ施設"
    CULTURE = "culture", "文化施設"
    COMMUNITY = "community", "集会施設"
    OUTDOOR = "outdoor", "屋外施設"


class ResourceKind(models.TextChoices):
    """What can be booked inside a facility (a divisible hall has children: its parts)."""

    ROOM = "room", "部屋"
    HALL = "hall", "ホール"
    COURT = "court", "コート"
    FIELD = "field", "グラウンド"
    OTHER = "other", "その他"


class DayType(models.TextChoices):
    """The day types a facility's time slots (コマ) are set for."""

    WEEKDAY = "weekday", "平日"
    HOLIDAY = "holiday", "土日祝"


class SlotState(models.TextChoices):
    """How a slot can be taken now."""

    #: Inside a lottery's window: only lottery entries, no booking.
    LOTTERY = "lottery", "抽選受付中"
    #: Drawn, winners not yet confirmed: nobody can book it until it is released by the rules.
    PENDING = "pending", "抽選結果の確定待ち"
    #: First come, first served.
    OPEN = "open", "先着受付中"
    #: Not offered (closed by staff, or the facility is closed that day).
    CLOSED = "closed", "受付停止"


class BookingStatus(models.TextChoices):
    #: Taken by a resident for a few minutes while they confirm (the hold expires).
    HELD = "held", "仮押さえ"
    #: Won in a lottery (or offered from the waitlist): must be confirmed by a deadline.
    OFFERED = "offered", "確定待ち"
    CONFIRMED = "confirmed", "予約確定"
    CANCELLED = "cancelled", "取消し"
    EXPIRED = "expired", "期限切れ"
    NO_SHOW = "no_show", "無断不使用"


#: A booking in these statuses holds its slot (its claims exist).
ACTIVE_STATUSES: Final = (BookingStatus.HELD, BookingStatus.OFFERED, BookingStatus.CONFIRMED)


class BookingSource(models.TextChoices):
    FIRST_COME = "first_come", "先着"
    LOTTERY = "lottery", "抽選"
    WAITLIST = "waitlist", "キャンセル待ち"
    COUNTER = "counter", "窓口・電話"


class Channel(models.TextChoices):
    """How a booking reached the organisation; the same values as the applications' channel,
    so that the statistics count a confirmed booking as a procedure of that channel."""

    ONLINE = "online", "オンライン"
    COUNTER = "counter", "窓口"


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", "未納"
    PAID_COUNTER = "paid_counter", "窓口で納付済み"
    PAID_TRANSFER = "paid_transfer", "振込で納付済み"
    PAID_ONLINE = "paid_online", "オンラインで納付済み"
    EXEMPT = "exempt", "免除"
    REFUNDED = "refunded", "還付済み"


class LogKind(models.TextChoices):
    """施設の公開記録: what happened to a slot, by which rule (never who)."""

    BOOKED = "booked", "予約"
    CANCELLED = "cancelled", "取消し"
    EXPIRED = "expired", "期限切れによる解放"
    RELEASED = "released", "解放"
    OVERRIDE = "override", "職員による変更"
    LOTTERY = "lottery", "抽選"
    WAITLIST = "waitlist", "キャンセル待ちへの案内"
    CLOSED = "closed", "受付停止"


#: How long a first-come hold lasts while the resident confirms.
HOLD_DURATION: Final = timedelta(minutes=10)


class RegistrationKind(models.TextChoices):
    INDIVIDUAL = "individual", "個人"
    GROUP = "group", "団体"


class RegistrationStatus(models.TextChoices):
    #: Waiting for staff (confirmation at the counter, or a flagged overlap).
    PENDING = "pending", "確認待ち"
    APPROVED = "approved", "登録済み"
    REJECTED = "rejected", "不承認"
    CLOSED = "closed", "廃止"


class Eligibility(models.TextChoices):
    """Who may use a facility (利用できる人)."""

    ANYONE = "anyone", "どなたでも"
    #: 市内在住・在勤・在学 (and groups of them).
    LOCAL = "local", "市内に住んでいる・通勤している・通学している方"
    RESIDENTS = "residents", "市内に住んでいる方"


class Residency(models.TextChoices):
    """A registered person's (or member's) tie to the municipality."""

    RESIDENT = "resident", "在住"
    WORKER = "worker", "在勤"
    STUDENT = "student", "在学"
    OUTSIDE = "outside", "市外"


# --- Waitlist (キャンセル待ち) and refunds ----------------------------------------------------


class WaitlistStatus(models.TextChoices):
    #: Waiting for the slot to be freed.
    WAITING = "waiting", "キャンセル待ち"
    #: The slot was freed and offered to this entry (an OFFERED booking holds it).
    OFFERED = "offered", "ご案内中"
    #: The offer was confirmed: the entry became a booking.
    ACCEPTED = "accepted", "予約になりました"
    #: The offer was not confirmed in time, or the slot began before it could be offered.
    EXPIRED = "expired", "期限切れ"
    #: Left the waitlist, or declined the offer.
    WITHDRAWN = "withdrawn", "取りやめ"


#: A waitlist entry in these statuses counts as "on the waitlist" for that slot.
WAITLIST_OPEN_STATUSES: Final = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
#: At most this many waiting entries per registration at once (shown to residents).
WAITLIST_MAX: Final = 3
#: How long a resident has to confirm a slot offered from the waitlist …
WAITLIST_OFFER_DURATION: Final = timedelta(hours=24)
#: … but never later than this before the slot starts (less left: released to first come).
WAITLIST_OFFER_MARGIN: Final = timedelta(hours=1)
#: Payment statuses where the fee was actually paid (a cancellation may refund part of it).
PAID_STATUSES: Final = (
    PaymentStatus.PAID_COUNTER,
    PaymentStatus.PAID_TRANSFER,
    PaymentStatus.PAID_ONLINE,
)
