"""Reads for the staff API and the webhooks, always scoped by the organisation.

Lists page by keyset (``arrived_at``, ``id``) — the inbox indexes — so that the millionth
row costs what the first does; the cursor a client gets back is opaque.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db.models import Q

from madoguchi.applications.models import Application
from madoguchi.tenants.models import Organisation

MAX_CURSOR_LENGTH: Final = 200


class InvalidCursor(ValueError):
    """A cursor that this API did not hand out (message in Japanese)."""


@dataclass(frozen=True)
class Cursor:
    """The last row of a page: the next page starts strictly after it."""

    arrived_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.arrived_at.isoformat(), self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        problem = InvalidCursor(
            "cursor が正しくありません。前のページの next_cursor をそのまま指定してください。"
        )
        if not isinstance(text, str) or not text or len(text) > MAX_CURSOR_LENGTH:
            raise problem
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            instant, pk = json.loads(raw.decode("ascii"))
            arrived_at = datetime.fromisoformat(instant)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise problem from None
        if arrived_at.tzinfo is None or type(pk) is not int or not 0 < pk < 2**63:
            raise problem
        return cls(arrived_at=arrived_at, id=pk)


@dataclass(frozen=True)
class StaffFilters:
    procedure_id: int | None = None
    status: str | None = None
    arrived_after: datetime | None = None
    arrived_before: datetime | None = None


@dataclass(frozen=True)
class ApplicationPage:
    rows: list[Application]
    next_cursor: Cursor | None


def staff_applications_page(
    *, organisation: Organisation, filters: StaffFilters, after: Cursor | None, limit: int
) -> ApplicationPage:
    """A page of the organisation's applications, newest arrival first; no COUNT is made."""
    qs = Application.objects.filter(organisation=organisation).select_related("procedure")
    if filters.procedure_id is not None:
        qs = qs.filter(procedure_id=filters.procedure_id)
    if filters.status is not None:
        qs = qs.filter(status=filters.status)
    if filters.arrived_after is not None:
        qs = qs.filter(arrived_at__gte=filters.arrived_after)
    if filters.arrived_before is not None:
        qs = qs.filter(arrived_at__lt=filters.arrived_before)
    if after is not None:
        qs = qs.filter(
            Q(arrived_at__lt=after.arrived_at) | Q(arrived_at=after.arrived_at, id__lt=after.id)
        )
    rows = list(qs.order_by("-arrived_at", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return ApplicationPage(
        rows=rows, next_cursor=Cursor(last.arrived_at, last.pk) if last is not None else None
    )


def staff_application_get(*, organisation: Organisation, application_id: int) -> Application:
    """One application of ``organisation``; another organisation's id raises DoesNotExist."""
    return Application.objects.select_related("procedure", "form_version", "organisation").get(
        organisation=organisation, pk=application_id
    )


@dataclass(frozen=True)
class ApplicationReference:
    receipt_number: str
    lg_code: str


def application_reference(*, application_id: int) -> ApplicationReference:
    """What a webhook payload names an application by (no personal data)."""
    receipt_number, lg_code = Application.objects.values_list(
        "receipt_number", "organisation__lg_code"
    ).get(pk=application_id)
    return ApplicationReference(receipt_number=receipt_number, lg_code=lg_code)
