"""利用者登録: who may book — an individual, or a group with its 代表者 and members.

Every registration lists its people as :class:`RegistrationMember` rows: an individual's one
row is the person, a group's first row (``representative``) is its 代表者. Each row carries an
``identity_key`` — a keyed hash of the NFKC-normalised kana (or name) and birth date — so that
the same person in several registrations is found without comparing or logging the raw values
(see :func:`identity_key_of`). The rules each organisation sets are in
:class:`ReservationSettings`.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from django.db import models
from django.utils.crypto import salted_hmac

from madoguchi.core.models import TimeStampedModel
from madoguchi.core.text import search_key
from madoguchi.identity.models import Staff, User
from madoguchi.reservations.constants import RegistrationKind, RegistrationStatus, Residency
from madoguchi.tenants.models import Organisation

#: Salt of :func:`identity_key_of` (HMAC with ``settings.SECRET_KEY``).
_IDENTITY_SALT: Final = "madoguchi.reservations.registration_member"


def identity_key_of(*, kana: str, name: str, birth_date: date) -> str:
    """The keyed hash under which one person is recognised across registrations.

    The kana (or, when empty, the name) is folded by :func:`madoguchi.core.text.search_key`
    (NFKC, hiragana to katakana, no spaces), so that 「やまだ　たろう」 and 「ﾔﾏﾀﾞﾀﾛｳ」 of the same
    birth date are one person. Keyed with the secret key: the hash cannot be reversed by
    trying names."""
    text = search_key(kana) or search_key(name)
    return salted_hmac(
        _IDENTITY_SALT, f"{text}|{birth_date.isoformat()}", algorithm="sha256"
    ).hexdigest()


class CounterDocument(models.TextChoices):
    """The identity document staff saw at the counter (their own short list; the number on
    the document is never recorded)."""

    MY_NUMBER_CARD = "my_number_card", "マイナンバーカード"
    DRIVING_LICENCE = "driving_licence", "運転免許証"
    PASSPORT = "passport", "パスポート"
    RESIDENCE_CARD = "residence_card", "在留カード"
    HEALTH_INSURANCE = "health_insurance", "資格確認書・健康保険証"
    STUDENT_OR_STAFF_ID = "student_or_staff_id", "学生証・社員証（在学・在勤の確認）"
    OTHER = "other", "その他の公的書類"


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
    #: Why staff must look before approving (an overlap with another group, a member over the
    #: cap). Shown to staff only; holds registration numbers, never names.
    flag_reason = models.TextField("職員への注意", blank=True)
    #: The identity document seen at the counter (:class:`CounterDocument`).
    document_seen = models.CharField(
        "窓口で確認した書類", max_length=32, choices=CounterDocument.choices, blank=True
    )
    #: The reason given to the resident for a rejection (or staff's note on an approval).
    decision_reason = models.TextField("理由", blank=True)
    decided_at = models.DateTimeField("承認・不承認の日時", null=True, blank=True)
    closed_at = models.DateTimeField("廃止日時", null=True, blank=True)

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


class RegistrationMember(models.Model):
    """One person of a registration: the individual, or a group's 代表者 or member."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="members")
    #: The individual, or the group's 代表者 (exactly one per registration).
    representative = models.BooleanField("代表者", default=False)
    name = models.CharField("氏名", max_length=50)
    kana = models.CharField("ふりがな", max_length=100)
    birth_date = models.DateField("生年月日")
    residency = models.CharField(
        "市との関係", max_length=16, choices=Residency.choices, default=Residency.RESIDENT
    )
    #: :func:`identity_key_of` of kana and birth date (never the raw values in logs).
    identity_key = models.CharField(max_length=64, db_index=True)
    order = models.PositiveSmallIntegerField("表示順", default=0)

    class Meta:
        verbose_name = "登録者・構成員"
        verbose_name_plural = "登録者・構成員"
        ordering = ("registration", "order", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("registration", "identity_key"), name="registration_member_once"
            ),
        )

    def __str__(self) -> str:
        return f"{self.registration_id}#{self.order}"


class ReservationSettings(models.Model):
    """An organisation's rules for registrations (defaults when it has no row: see
    :meth:`of`). Defaults: one individual and two group registrations per person, a group
    overlapping another by half of its members is held for staff, and level 2 identity
    (an identity document checked, a passkey…) registers online without the counter."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    #: How many individual registrations one person may hold (active: pending or approved).
    max_individual = models.PositiveSmallIntegerField("個人登録の上限（1人あたり）", default=1)
    #: How many group registrations one person may be in (as 代表者 or member).
    max_groups = models.PositiveSmallIntegerField("団体登録の上限（1人あたり）", default=2)
    #: A new group sharing this share (percent) of its members with another group is held.
    overlap_percent = models.PositiveSmallIntegerField("構成員の重複の基準（％）", default=50)
    #: 身元確認保証レベル at which an online registration is approved without the counter.
    online_ial = models.PositiveSmallIntegerField(
        "窓口確認なしで登録できる身元確認レベル", default=2
    )
    #: The account holder (an individual, a group's 代表者) must be at least this old.
    min_holder_age = models.PositiveSmallIntegerField("登録者・代表者の最低年齢", default=18)

    class Meta:
        verbose_name = "利用者登録の設定"
        verbose_name_plural = "利用者登録の設定"

    def __str__(self) -> str:
        return f"settings of {self.organisation_id}"

    @classmethod
    def of(cls, organisation: Organisation) -> ReservationSettings:
        """The organisation's settings, or the defaults (not stored) when it has none."""
        found = cls.objects.filter(organisation=organisation).first()
        return found if found is not None else cls(organisation=organisation)
