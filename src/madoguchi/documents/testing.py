"""Test helpers of issued documents (imported by tests only)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from madoguchi.documents.codes import code_new
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.models import Document
from madoguchi.tenants.models import Organisation


def document_record_make(
    *,
    organisation: Organisation,
    pdf: bytes = b"%PDF-1.7 test",
    kind: str = DocumentKind.DECISION_APPROVE,
    title: str = "承認通知書",
    source_key: str = "",
    now: datetime,
) -> Document:
    """A register record without numbering, sealing or register entry, for tests of what
    merely shows or purges documents."""
    code = code_new()
    return Document.objects.create(
        organisation=organisation,
        kind=kind,
        title=title,
        source_key=source_key or f"test:{code}",
        code=code,
        issued_at=now,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        issued_length=len(pdf),
    )
