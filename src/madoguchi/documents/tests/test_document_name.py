"""Document.name: the document's own name as printed, never with a receipt number; the data
migration fills existing rows from their title."""

from __future__ import annotations

import importlib

from madoguchi.core.time import now
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.models import Document
from madoguchi.documents.selectors import document_public_facts
from madoguchi.documents.testing import document_record_make


def test_the_migration_takes_the_name_from_the_title_before_the_number(organisation):
    from django.apps import apps

    migration = importlib.import_module("madoguchi.documents.migrations.0005_document_name")
    certificate = document_record_make(
        organisation=organisation,
        kind=DocumentKind.CERTIFICATE,
        title="罹災証明書（141003-2026-000123）",
        now=now(),
    )
    permit = document_record_make(
        organisation=organisation,
        kind=DocumentKind.PERMIT,
        title="施設使用許可書（R-2026-0001）",
        now=now(),
    )
    Document.objects.update(name="")

    migration.names_fill(apps, None)

    certificate.refresh_from_db()
    permit.refresh_from_db()
    assert certificate.name == "罹災証明書"
    assert permit.name == "使用許可書"


def test_the_public_facts_call_a_certificate_by_its_name(organisation):
    document = document_record_make(
        organisation=organisation,
        kind=DocumentKind.CERTIFICATE,
        title="罹災証明書（141003-2026-000123）",
        name="罹災証明書",
        now=now(),
    )

    facts = document_public_facts(document)

    assert facts.title_label == "罹災証明書"
    assert facts.kind_label == "証明書"
