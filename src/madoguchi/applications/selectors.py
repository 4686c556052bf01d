"""Reads of applications, always scoped: by organisation for staff, by applicant for residents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from madoguchi.applications.models import Application, Draft
from madoguchi.forms.base import FormSpec, field_types
from madoguchi.forms.selectors import form_spec


def applications_of_applicant(*, applicant: Any) -> QuerySet[Application]:
    return (
        Application.objects.filter(applicant=applicant)
        .select_related("organisation", "procedure")
        .order_by("-arrived_at", "-id")
    )


def application_for_applicant(*, applicant: Any, receipt_number: str) -> Application:
    """The applicant's own application; anyone else's receipt number raises DoesNotExist."""
    return applications_of_applicant(applicant=applicant).get(receipt_number=receipt_number[:32])


def drafts_of_applicant(*, applicant: Any) -> QuerySet[Draft]:
    return (
        Draft.objects.filter(applicant=applicant)
        .select_related("procedure", "organisation")
        .order_by("-updated_at")
    )


def _masked(value: Any) -> Any:
    if isinstance(value, dict) and "$enc" in value:
        return value.get("masked", "●●●●")
    return value


def stored_display_rows(spec: FormSpec, answers: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Rows for receipts and my page from stored answers: encrypted values show masked,
    without decrypting (revealing is a staff action that is audited)."""
    rows: list[tuple[str, str, str]] = []
    for step in spec.steps:
        for field in step.fields:
            if field.key not in answers:
                continue
            value = answers[field.key]
            if field.type == "group":
                for index, item in enumerate(value):
                    label = field.option("item_label", field.label)
                    for child in field.fields:
                        if child.key in item:
                            rows.append(
                                (
                                    step.title,
                                    f"{label}{index + 1} {child.label}",
                                    _text(child, item[child.key]),
                                )
                            )
                continue
            rows.append((step.title, field.label, _text(field, value)))
    return rows


def _text(field: Any, value: Any) -> str:
    if isinstance(value, dict) and "$enc" in value:
        return str(value.get("masked", "●●●●"))
    return field_types[field.type].display(value, field)


def application_rows(application: Application) -> list[tuple[str, str, str]]:
    return stored_display_rows(form_spec(application.form_version), application.answers)
