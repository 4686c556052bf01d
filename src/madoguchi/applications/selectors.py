"""Reads of applications, always scoped: by organisation for staff, by applicant for residents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from madoguchi.applications.models import Application
from madoguchi.forms.base import FieldSpec, FormSpec, field_types
from madoguchi.forms.engine import display_rows
from madoguchi.forms.selectors import form_spec


def applications_of_applicant(*, applicant: Any) -> QuerySet[Application]:
    return (
        Application.objects.filter(applicant=applicant)
        .select_related("organisation", "procedure")
        .order_by("-arrived_at", "-id")
    )


def stored_display_rows(spec: FormSpec, answers: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Rows for receipts and my page from stored answers: encrypted values show masked,
    without decrypting (revealing is a staff action that is audited)."""
    return display_rows(spec, answers, text=_text)


def _text(field: FieldSpec, value: Any) -> str:
    if isinstance(value, dict) and "$enc" in value:
        return str(value.get("masked", "●●●●"))
    return field_types[field.type].display(value, field)


def application_rows(application: Application) -> list[tuple[str, str, str]]:
    return stored_display_rows(form_spec(application.form_version), application.answers)
