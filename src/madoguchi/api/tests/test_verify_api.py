"""A bank's system checks a document by its code through GET /api/v1/verify/{code}."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from madoguchi.core.time import now
from madoguchi.documents.models import Document
from madoguchi.documents.ratelimit import LOOKUP_LIMIT
from madoguchi.documents.testing import document_record_make


@pytest.fixture
def document(organisation):
    return document_record_make(organisation=organisation, pdf=b"%PDF-1.7 api", now=now())


def test_the_public_facts_as_json(client, document):
    response = client.get(f"/api/v1/verify/{document.code.lower().replace('-', '')}")

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == document.code
    assert body["organisation_name"] == "横浜市"
    assert body["status"] == "valid"
    assert body["status_label"] == "有効"
    assert body["sha256"] == document.sha256
    assert body["issued_on_wareki"].startswith("令和")
    assert body["successor_code"] is None
    assert body["register_entry"] is None  # made without the register
    assert body["verify_url"].endswith(f"/verify/{document.code}")
    assert "title" not in body  # the title names the receipt number


def test_a_withdrawn_and_a_superseded_document(client, organisation, document):
    successor = document_record_make(organisation=organisation, pdf=b"%PDF-1.7 new", now=now())
    Document.objects.filter(pk=document.pk).update(
        status="superseded", superseded_by=successor, status_reason="訂正", status_changed_at=now()
    )
    body = client.get(f"/api/v1/verify/{document.code}").json()
    assert body["status"] == "superseded"
    assert body["successor_code"] == successor.code
    assert body["successor_url"].endswith(f"/verify/{successor.code}")


@pytest.mark.parametrize("code", ["ZZZZ-ZZZZ-ZZZZ-ZZZZ", "x", "A" * 200])
def test_an_unknown_code_is_404_and_says_nothing_else(client, document, code):
    response = client.get(f"/api/v1/verify/{code}")
    assert response.status_code == 404
    assert set(response.json()) <= {"detail", "errors"}
    assert "見つかりません" in response.json()["detail"]


def test_lookups_are_limited_per_client_address(document):
    cache.clear()
    most, _ = LOOKUP_LIMIT
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(most):
        client.get("/api/v1/verify/ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    refused = client.get(f"/api/v1/verify/{document.code}")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1


def test_the_openapi_document_describes_it(client, db):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/verify/{code}"]["get"]
    assert {"200", "404", "429"} <= set(operation["responses"])
    assert operation.get("security") in (None, [])


def test_the_document_is_named_as_printed_and_a_correction_names_what_it_replaces(
    client, organisation
):
    from madoguchi.documents.constants import DocumentKind

    old = document_record_make(
        organisation=organisation,
        kind=DocumentKind.CERTIFICATE,
        title="罹災証明書（141003-2026-000123）",
        name="罹災証明書",
        now=now(),
    )
    new = document_record_make(
        organisation=organisation, kind=DocumentKind.CERTIFICATE, title="罹災証明書", now=now()
    )
    Document.objects.filter(pk=old.pk).update(status="superseded", superseded_by=new)

    body = client.get(f"/api/v1/verify/{new.code}").json()

    assert body["name"] == "罹災証明書"
    assert body["replaces_codes"] == [old.code]
    assert "141003-2026-000123" not in str(body)
