"""Online usage statistics (オンライン利用率): how procedures are classified into national
categories, counts imported from other systems, and published figures (公表値).

Counts of applications made through the platform are not stored here: they are derived from
the applications (:func:`madoguchi.applications.selectors.arrival_counts`), so that no
submission ever updates a counter row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from madoguchi.catalog.models import Procedure
from madoguchi.tenants.models import Organisation


class ProcedureClassification(models.Model):
    """The national category (``stats/categories``) an organisation files one of its
    procedures under, overriding the default its national template names (if any).
    An empty ``category_code`` means "not a counted procedure" (e.g. a survey)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure = models.OneToOneField(
        Procedure, on_delete=models.CASCADE, related_name="classification"
    )
    category_code = models.CharField("国の手続分類コード", max_length=32, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    set_at = models.DateTimeField()

    class Meta:
        verbose_name = "手続の分類"
        verbose_name_plural = "手続の分類"

    def __str__(self) -> str:
        return f"{self.procedure_id}: {self.category_code or '対象外'}"


class CountImport(models.Model):
    """One accepted import of counts from another system (eLTAX, library OPAC, water …).

    Imports are all-or-nothing: a file with one rejected row imports nothing and leaves no
    row here."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="取り込んだ職員の団体（運用者によるコマンドでの取込では空）",
    )
    file_name = models.CharField("ファイル名", max_length=200)
    file_sha256 = models.CharField(max_length=64)
    encoding = models.CharField(max_length=16)
    rows = models.PositiveIntegerField("行数")
    replaced = models.PositiveIntegerField("置き換えた行数", default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField()

    class Meta:
        verbose_name = "件数の取込"
        verbose_name_plural = "件数の取込"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows}行)"


class CountImportOrganisation(models.Model):
    """What one import did to one organisation's counts: how many of its rows it carried and
    how many stored rows they replaced. An organisation's history of imports (including the
    platform operator's imports that carried its rows) is read from here."""

    batch = models.ForeignKey(CountImport, on_delete=models.CASCADE, related_name="touched")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    rows = models.PositiveIntegerField("行数")
    replaced = models.PositiveIntegerField("置き換えた行数", default=0)

    class Meta:
        verbose_name = "件数の取込（団体ごと）"
        verbose_name_plural = "件数の取込（団体ごと）"
        constraints = (
            models.UniqueConstraint(
                fields=("batch", "organisation"), name="count_import_organisation_unique"
            ),
        )

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.organisation_id}"


class ImportedCount(models.Model):
    """Counts of one national category at one organisation for one fiscal year (``month``
    0) or one month of it, done in a system outside the platform. A later import of
    the same organisation × category × fiscal year × month replaces the earlier one.

    For one organisation × category × fiscal year there is either a year figure (``month``
    0) or monthly figures, never both (that would count the year twice):
    :func:`madoguchi.stats.imports.counts_import` keeps it so."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    category_code = models.CharField("国の手続分類コード", max_length=32)
    fiscal_year = models.PositiveSmallIntegerField("年度（西暦）")
    #: 1–12, a calendar month of the fiscal year (4 = April … 3 = March); 0 for a figure of
    #: the whole year.
    month = models.PositiveSmallIntegerField("月", default=0)
    total = models.PositiveBigIntegerField("総件数")
    online = models.PositiveBigIntegerField("オンライン件数")
    batch = models.ForeignKey(CountImport, on_delete=models.PROTECT, related_name="counts")

    class Meta:
        verbose_name = "取り込んだ件数"
        verbose_name_plural = "取り込んだ件数"
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "category_code", "fiscal_year", "month"),
                name="imported_count_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(online__lte=models.F("total")),
                name="imported_count_online_le_total",
            ),
            models.CheckConstraint(
                condition=models.Q(month__gte=0, month__lte=12),
                name="imported_count_month_range",
            ),
        )
        indexes = (models.Index(fields=("fiscal_year", "category_code"), name="imported_fy"),)

    def __str__(self) -> str:
        return f"{self.organisation_id}/{self.category_code}/{self.fiscal_year}/{self.month}"


class PublishedFigure(models.Model):
    """A figure published by the ministry (nation) or a prefecture (公表値), entered so that
    the screens show it next to what the platform computed. ``prefecture_code`` empty means
    the nation. Counts are as published, in 件 (a figure published in 千件 is entered ×1000)."""

    prefecture_code = models.CharField("都道府県コード", max_length=2, blank=True)
    category_list = models.CharField("手続一覧", max_length=32)
    fiscal_year = models.PositiveSmallIntegerField("年度（西暦）")
    total = models.PositiveBigIntegerField("年間総手続件数")
    online = models.PositiveBigIntegerField("オンライン利用件数")
    source = models.CharField("出典", max_length=400)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    entered_at = models.DateTimeField()

    class Meta:
        verbose_name = "公表値"
        verbose_name_plural = "公表値"
        constraints = (
            models.UniqueConstraint(
                fields=("prefecture_code", "category_list", "fiscal_year"),
                name="published_figure_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(online__lte=models.F("total")),
                name="published_figure_online_le_total",
            ),
        )

    def __str__(self) -> str:
        return f"{self.prefecture_code or '全国'}/{self.category_list}/{self.fiscal_year}"
