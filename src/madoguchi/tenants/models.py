"""団体マスタ: every prefecture and municipality, and the shared groups (共同利用グループ)."""

from __future__ import annotations

from django.db import models

from madoguchi.core.models import TimeStampedModel
from madoguchi.tenants.constants import OrganisationKind


class Organisation(TimeStampedModel):
    """A local government (地方公共団体), or a ward (行政区) of a designated city.

    Rows are never deleted: an organisation that disappears from the master (a merger) is
    deactivated, because applications and statistics keep referring to it.
    """

    lg_code = models.CharField("団体コード", max_length=6, unique=True)
    name = models.CharField("名称", max_length=64)
    kana = models.CharField("名称（カナ）", max_length=128, blank=True)
    name_en = models.CharField("名称（英字）", max_length=128, blank=True)
    kind = models.CharField("種別", max_length=20, choices=OrganisationKind.choices)
    prefecture_code = models.CharField("都道府県コード", max_length=2, db_index=True)
    prefecture = models.ForeignKey(
        "self",
        verbose_name="都道府県",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organisations_in_prefecture",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name="親団体（行政区の属する指定都市）",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wards",
    )
    latitude = models.DecimalField("緯度", max_digits=10, decimal_places=7, null=True, blank=True)
    longitude = models.DecimalField("経度", max_digits=10, decimal_places=7, null=True, blank=True)
    population = models.PositiveBigIntegerField("人口", null=True, blank=True)
    population_as_of = models.DateField("人口の基準日", null=True, blank=True)
    active = models.BooleanField("有効", default=True)
    deactivated_at = models.DateTimeField("無効化日時", null=True, blank=True)
    search_key = models.CharField(max_length=256, editable=False, db_index=True)

    class Meta:
        verbose_name = "団体"
        verbose_name_plural = "団体"
        ordering = ("lg_code",)
        indexes = (models.Index(fields=("prefecture_code", "kind", "lg_code")),)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(lg_code__regex=r"^[0-9]{6}$"),
                name="organisation_lg_code_six_digits",
            ),
            models.CheckConstraint(
                condition=models.Q(prefecture_code__regex=r"^[0-9]{2}$"),
                name="organisation_prefecture_code_two_digits",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=OrganisationKind.values),
                name="organisation_kind_known",
            ),
            models.CheckConstraint(
                condition=models.Q(population__isnull=True) | models.Q(population__gte=0),
                name="organisation_population_not_negative",
            ),
        )

    def __str__(self) -> str:
        return f"{self.display_name}（{self.lg_code}）"

    @property
    def display_name(self) -> str:
        """The name as people write it: wards with their city (横浜市中区)."""
        if self.kind == OrganisationKind.WARD and self.parent is not None:
            return f"{self.parent.name}{self.name}"
        return self.name

    @property
    def is_tenant(self) -> bool:
        return self.kind != OrganisationKind.WARD

    @property
    def code5(self) -> str:
        return self.lg_code[:5]


class OrganisationContact(models.Model):
    """What an organisation tells residents about itself (one row or none): its counter, how
    to reach it, its terms of use and privacy policy.

    Shown on the organisation's pages and on each of its procedures. A field left empty is not
    shown at all: the portal never fills a gap with a made-up text.
    """

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="contact"
    )
    desk_name = models.CharField("窓口名", max_length=100, blank=True)
    phone = models.CharField("電話番号", max_length=20, blank=True)
    email = models.EmailField("メールアドレス", max_length=254, blank=True)
    address = models.CharField("所在地", max_length=200, blank=True)
    hours = models.CharField("受付時間", max_length=200, blank=True)
    terms = models.TextField("利用規約", max_length=20000, blank=True)
    privacy = models.TextField(
        "個人情報の取扱い（プライバシーポリシー）", max_length=20000, blank=True
    )
    updated_at = models.DateTimeField("更新日時")

    class Meta:
        verbose_name = "団体の連絡先・規約"
        verbose_name_plural = "団体の連絡先・規約"

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.desk_name}"

    @property
    def has_contact(self) -> bool:
        return any((self.desk_name, self.phone, self.email, self.address, self.hours))


class SharedGroup(TimeStampedModel):
    """共同利用グループ: organisations that share one installation and one portal."""

    slug = models.SlugField("識別子", max_length=64, unique=True)
    name = models.CharField("名称", max_length=128)
    prefecture = models.ForeignKey(
        Organisation,
        verbose_name="ポータルを置く都道府県",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="portal_groups",
    )
    portal_title = models.CharField("ポータルの表題", max_length=128, blank=True)
    portal_welcome = models.TextField("ポータルの案内文", max_length=4000, blank=True)
    contact = models.TextField("問い合わせ先", max_length=2000, blank=True)
    active = models.BooleanField("有効", default=True)
    members = models.ManyToManyField(
        Organisation, through="GroupMembership", related_name="shared_groups"
    )

    class Meta:
        verbose_name = "共同利用グループ"
        verbose_name_plural = "共同利用グループ"
        ordering = ("slug",)
        constraints = (
            # One portal per prefecture: /p/<code>/ must be unambiguous.
            models.UniqueConstraint(
                fields=("prefecture",),
                condition=models.Q(active=True, prefecture__isnull=False),
                name="one_active_portal_per_prefecture",
            ),
        )

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    group = models.ForeignKey(SharedGroup, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="group_memberships"
    )
    joined_at = models.DateTimeField("参加日時")

    class Meta:
        verbose_name = "グループ参加団体"
        verbose_name_plural = "グループ参加団体"
        constraints = (
            models.UniqueConstraint(fields=("group", "organisation"), name="membership_unique"),
        )

    def __str__(self) -> str:
        return f"{self.group_id}:{self.organisation_id}"


class MasterLoad(models.Model):
    """One run of the organisation master loader, so operators can see what changed when."""

    loaded_at = models.DateTimeField("読込日時")
    source = models.CharField("出典", max_length=128)
    digest = models.CharField("データのSHA-256", max_length=64)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    reactivated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "団体マスタ読込"
        verbose_name_plural = "団体マスタ読込"
        ordering = ("-loaded_at", "-id")

    def __str__(self) -> str:
        return f"{self.source} {self.loaded_at:%Y-%m-%d %H:%M}"


class PopulationImport(models.Model):
    """One accepted population import (人口の取込)."""

    imported_at = models.DateTimeField("取込日時")
    file_name = models.CharField("ファイル名", max_length=255)
    encoding = models.CharField("文字コード", max_length=16)
    as_of = models.DateField("人口の基準日", null=True, blank=True)
    rows = models.PositiveIntegerField("行数")
    digest = models.CharField("ファイルのSHA-256", max_length=64)

    class Meta:
        verbose_name = "人口取込"
        verbose_name_plural = "人口取込"
        ordering = ("-imported_at", "-id")

    def __str__(self) -> str:
        return f"{self.file_name} {self.imported_at:%Y-%m-%d %H:%M}"


__all__ = [
    "GroupMembership",
    "MasterLoad",
    "Organisation",
    "OrganisationContact",
    "PopulationImport",
    "SharedGroup",
]
