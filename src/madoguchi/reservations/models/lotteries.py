"""抽選 (lotteries): a month's slots of some facilities offered by a verifiable draw.

A :class:`Lottery` is created with a secret ``seed`` whose ``commitment`` (SHA-256, see
:mod:`madoguchi.reservations.draw`) is public from the start. Residents enter
(:class:`LotteryEntry`, a public random ``code``) with ranked choices (:class:`LotteryChoice`,
one row per slot; the rows of one rank are a group that wins or loses together). At the draw
the seed, the entrant list (codes and slot ids, no names) and its digest are published, so
that anyone can re-run the draw (``madoguchi lottery verify``). With a second draw, a fresh
independent ``seed2`` is made at the draw and only its ``commitment2`` is published with the
draw's results; ``seed2`` itself is revealed only when the second draw runs.
"""

from __future__ import annotations

from django.db import models

from madoguchi.core.models import TimeStampedModel
from madoguchi.reservations.constants import FacilityCategory
from madoguchi.reservations.models.bookings import Booking, Slot
from madoguchi.reservations.models.facilities import Facility
from madoguchi.reservations.models.registrations import Registration
from madoguchi.tenants.models import Organisation


class ReleaseRule(models.TextChoices):
    """What happens to the slots nobody won, or whose winners did not confirm."""

    #: A second draw among the losing entries over the freed slots, then first come.
    SECOND_DRAW = "second_draw", "二次抽選のあと先着順"
    #: First come from ``release_at`` (a set, announced time — never at once).
    FIRST_COME = "first_come", "先着順"


class LotteryStatus(models.TextChoices):
    #: Before the draw (entries are taken between ``entry_opens_at`` and ``entry_closes_at``).
    ACCEPTING = "accepting", "受付・抽選前"
    #: Drawn; winners confirm by ``confirm_deadline``.
    DRAWN = "drawn", "抽選済み（確定待ち）"
    #: The second draw was run; its winners confirm by ``release_at``.
    SECOND_DRAWN = "second_drawn", "二次抽選済み（確定待ち）"
    #: Every slot left is released to first come from ``release_at``.
    CLOSED = "closed", "終了"


class EntryStatus(models.TextChoices):
    ENTERED = "entered", "応募中"
    WITHDRAWN = "withdrawn", "取下げ"
    WON = "won", "当選（確定待ち）"
    LOST = "lost", "落選"
    CONFIRMED = "confirmed", "当選・確定済み"
    FORFEITED = "forfeited", "当選・期限切れ"


class Lottery(TimeStampedModel):
    """One lottery of one target month over some facilities (a category and/or a list)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField("名称", max_length=100)
    category = models.CharField(
        "施設の分類", max_length=16, choices=FacilityCategory.choices, blank=True
    )
    facilities = models.ManyToManyField(Facility, related_name="lotteries", verbose_name="施設")
    #: The first day of the target month (利用月).
    month = models.DateField("利用月")
    entry_opens_at = models.DateTimeField("受付開始")
    entry_closes_at = models.DateTimeField("受付終了")
    draw_at = models.DateTimeField("抽選日時")
    confirm_deadline = models.DateTimeField("当選の確定期限")
    release_rule = models.CharField(
        "残った枠の扱い", max_length=16, choices=ReleaseRule.choices, default=ReleaseRule.FIRST_COME
    )
    #: When slots left over open to first come (and the second draw's confirm deadline).
    release_at = models.DateTimeField("先着受付の開始")
    cap_per_month = models.PositiveSmallIntegerField("1か月の応募数の上限", default=4)
    cap_weekend = models.PositiveSmallIntegerField("うち土日祝の上限", default=2)
    max_choices = models.PositiveSmallIntegerField("希望の数", default=2)
    status = models.CharField(
        "状態", max_length=16, choices=LotteryStatus.choices, default=LotteryStatus.ACCEPTING
    )
    #: Secret until the draw: never shown, served or logged before ``drawn_at``.
    seed = models.CharField(max_length=64)
    commitment = models.CharField("コミットメント", max_length=64)
    algorithm = models.CharField("抽選方式", max_length=32)
    entrants_digest = models.CharField(max_length=64, blank=True)
    #: The published entrant list: [{"code": …, "choices": [[slot ids], …]}] sorted by code.
    entrants = models.JSONField(default=list, blank=True)
    #: The published winners: [{"code": …, "rank": …, "slots": [ids]}] in ticket order.
    winners = models.JSONField(default=list, blank=True)
    drawn_at = models.DateTimeField("抽選実施日時", null=True, blank=True)
    #: The second draw's own seed (release rule ``SECOND_DRAW``): made with :mod:`secrets` at
    #: the first draw, independent of ``seed``; secret until the second draw runs — never
    #: shown, served or logged before ``second["drawn_at"]``.
    seed2 = models.CharField(max_length=64, blank=True)
    #: ``commitment_of(seed2)``, published with the first draw's results (empty without one).
    commitment2 = models.CharField("二次抽選のコミットメント", max_length=64, blank=True)
    #: The second draw, published the same way: {"seed", "commitment", "entrants_digest",
    #: "entrants", "winners", "drawn_at"} (empty before it, or without one).
    second = models.JSONField(default=dict, blank=True)
    released_at = models.DateTimeField("解放日時", null=True, blank=True)

    class Meta:
        verbose_name = "抽選"
        verbose_name_plural = "抽選"
        ordering = ("organisation_id", "-month", "id")
        constraints = (
            models.CheckConstraint(
                condition=models.Q(entry_closes_at__gt=models.F("entry_opens_at"))
                & models.Q(draw_at__gte=models.F("entry_closes_at"))
                & models.Q(confirm_deadline__gt=models.F("draw_at"))
                & models.Q(release_at__gte=models.F("confirm_deadline")),
                name="lottery_dates_order",
            ),
        )

    def __str__(self) -> str:
        return self.name

    @property
    def drawn(self) -> bool:
        return self.drawn_at is not None


class LotteryEntry(TimeStampedModel):
    """One entry (応募) of a registration: up to ``max_choices`` ranked choices; wins at most
    once. ``code`` is public (the published lists show it), the registration is not."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    lottery = models.ForeignKey(Lottery, on_delete=models.CASCADE, related_name="entries")
    registration = models.ForeignKey(
        Registration, on_delete=models.PROTECT, related_name="lottery_entries"
    )
    code = models.CharField("応募番号", max_length=16)
    status = models.CharField(
        "状態", max_length=16, choices=EntryStatus.choices, default=EntryStatus.ENTERED
    )
    #: Which draw it won in (1 or 2; 0 when it has not won).
    won_round = models.PositiveSmallIntegerField(default=0)
    #: Has a choice with a weekend or holiday slot (counted against ``cap_weekend``).
    weekend = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "抽選の応募"
        verbose_name_plural = "抽選の応募"
        ordering = ("lottery_id", "code")
        constraints = (
            models.UniqueConstraint(fields=("lottery", "code"), name="lottery_entry_code_unique"),
            models.UniqueConstraint(
                fields=("registration", "idempotency_key"),
                condition=~models.Q(idempotency_key=""),
                name="lottery_entry_idempotency_unique",
            ),
        )
        indexes = (models.Index(fields=("lottery", "status"), name="lottery_entry_status"),)

    def __str__(self) -> str:
        return self.code


class LotteryChoice(models.Model):
    """One slot of one choice of an entry; the rows of one ``rank`` are one group. When the
    group wins, each row gets the booking made for its slot."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(LotteryEntry, on_delete=models.CASCADE, related_name="choices")
    rank = models.PositiveSmallIntegerField("希望順位")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="lottery_choices")
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "抽選の希望"
        verbose_name_plural = "抽選の希望"
        ordering = ("entry_id", "rank", "slot_id")
        constraints = (
            models.UniqueConstraint(fields=("entry", "rank", "slot"), name="lottery_choice_unique"),
        )

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.rank}:{self.slot_id}"
