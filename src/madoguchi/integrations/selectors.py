"""Reads for the staff API and the webhooks, always scoped by the organisation.

The staff API's list is the console's inbox selector
(:func:`madoguchi.applications.inbox.inbox_page`), with its one cursor format.
"""

from __future__ import annotations

from dataclasses import dataclass

from madoguchi.applications.models import Application
from madoguchi.tenants.models import Organisation


def staff_application_get(*, organisation: Organisation, application_id: int) -> Application:
    """One application of ``organisation``; another organisation's id raises DoesNotExist,
    and so does an operational-test application (運用テスト): the staff API, which core
    systems read, neither lists nor answers them."""
    return Application.objects.select_related("procedure", "form_version", "organisation").get(
        organisation=organisation, pk=application_id, is_test=False
    )


@dataclass(frozen=True)
class ApplicationReference:
    receipt_number: str
    lg_code: str
    is_test: bool = False


def application_reference(*, application_id: int) -> ApplicationReference:
    """What a webhook payload names an application by (no personal data)."""
    receipt_number, lg_code, is_test = Application.objects.values_list(
        "receipt_number", "organisation__lg_code", "is_test"
    ).get(pk=application_id)
    return ApplicationReference(receipt_number=receipt_number, lg_code=lg_code, is_test=is_test)
