"""Stored form definitions. A version is immutable: applications point at the exact version
they were made with, so what a resident saw is what staff receive."""

from __future__ import annotations

from typing import Any

from django.db import models

from madoguchi.tenants.models import Organisation


class FormDefinition(models.Model):
    """様式: a form's identity across versions, national (no organisation) or one organisation's."""

    key = models.CharField("識別子", max_length=64)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="form_definitions",
    )
    title = models.CharField("名称", max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "様式"
        verbose_name_plural = "様式"
        constraints = (
            models.UniqueConstraint(
                fields=("key",),
                condition=models.Q(organisation__isnull=True),
                name="national_form_key_unique",
            ),
            models.UniqueConstraint(
                fields=("organisation", "key"),
                condition=models.Q(organisation__isnull=False),
                name="organisation_form_key_unique",
            ),
        )

    def __str__(self) -> str:
        return self.title


class ImmutableVersionError(RuntimeError):
    """A published form version was about to be changed."""


class FormVersion(models.Model):
    """様式の版: the schema as data, with the digest of its canonical JSON."""

    definition = models.ForeignKey(
        FormDefinition, on_delete=models.PROTECT, related_name="versions"
    )
    version = models.PositiveIntegerField("版")
    schema = models.JSONField("定義")
    digest = models.CharField("SHA-256", max_length=64, db_index=True)
    published_at = models.DateTimeField("公開日時")

    class Meta:
        verbose_name = "様式の版"
        verbose_name_plural = "様式の版"
        ordering = ("definition_id", "version")
        constraints = (
            models.UniqueConstraint(fields=("definition", "version"), name="form_version_unique"),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="form_version_positive"
            ),
        )

    def __str__(self) -> str:
        return f"{self.definition.title} 第{self.version}版"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableVersionError(
                "公開された様式の版は変更できません。新しい版を作ってください。"
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableVersionError("公開された様式の版は削除できません。")
