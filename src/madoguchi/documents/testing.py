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


def tiny_pdf(text: str = "") -> bytes:
    """A real one-page PDF (pypdf), different for each ``text``."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text or "test"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def document_issue_make(
    *,
    organisation: Organisation,
    source_key: str,
    now: datetime,
    kind: str = DocumentKind.DECISION_APPROVE,
    procedure_key: str | None = None,
) -> Document:
    """Issue one document through the real step (number, code, seal, register), in its own
    transaction as the deciding service would."""
    from django.db import transaction

    from madoguchi.documents.issuance import document_issue

    with transaction.atomic():
        return document_issue(
            organisation=organisation,
            kind=DocumentKind(kind),
            title=DocumentKind(kind).label,
            source_key=source_key,
            build=lambda stamp: tiny_pdf(f"{stamp.number} {stamp.code}"),
            now=now,
            procedure_key=procedure_key,
        )
