"""A document's status changes one way, once: valid → withdrawn or superseded, with a reason,
audited, inside the caller's transaction; anything else is refused and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.documents.models import Document
from madoguchi.documents.status import STATUS_REASON_MAX, DocumentStatusError, document_status_set
from madoguchi.documents.testing import document_record_make


@pytest.fixture
def document(organisation):
    return document_record_make(organisation=organisation, now=now())


def _set(organisation, document, **kw):
    values: dict[str, Any] = {
        "status": DocumentStatus.WITHDRAWN,
        "reason": "誤って発行したため取り消します。",
    }
    values.update(kw)
    with transaction.atomic():
        return document_status_set(
            organisation=organisation, document=document, now=now(), **values
        )


def test_withdrawing_stores_the_reason_and_audits_ids_only(organisation, document, staff_member):
    with transaction.atomic():
        changed = document_status_set(
            organisation=organisation,
            document=document,
            status=DocumentStatus.WITHDRAWN,
            reason="誤って発行したため取り消します。",
            now=now(),
            actor=staff_member.user,
            detail={"application": 7},
        )
    assert changed.status == DocumentStatus.WITHDRAWN
    document.refresh_from_db()
    assert document.status == DocumentStatus.WITHDRAWN
    assert document.status_reason == "誤って発行したため取り消します。"
    assert document.status_changed_at is not None
    event = AuditEvent.objects.get(action="document.withdrawn")
    assert (event.actor, event.target_type, event.target_id) == (
        staff_member.user,
        "document",
        str(document.pk),
    )
    assert event.detail == {
        "application": 7,
        "document": document.pk,
        "kind": document.kind,
        "sha256": document.sha256,
    }


def test_superseding_names_the_successor(organisation, document):
    successor = document_record_make(organisation=organisation, now=now())
    _set(organisation, document, status=DocumentStatus.SUPERSEDED, superseded_by=successor)
    document.refresh_from_db()
    assert document.status == DocumentStatus.SUPERSEDED
    assert document.superseded_by == successor
    event = AuditEvent.objects.get(action="document.superseded")
    assert event.detail["superseded_by"] == successor.pk


def test_a_document_no_longer_valid_is_never_changed_again(organisation, document):
    _set(organisation, document)
    with pytest.raises(DocumentStatusError, match="すでに取り消されています") as refused:
        _set(organisation, document, reason="二度目の理由")
    assert refused.value.code == "not_valid"
    document.refresh_from_db()
    assert document.status_reason == "誤って発行したため取り消します。"
    assert AuditEvent.objects.filter(action="document.withdrawn").count() == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"status": DocumentStatus.VALID}, "status"),
        ({"status": "deleted"}, "status"),
        ({"reason": "  "}, "reason"),
        ({"reason": "あ" * (STATUS_REASON_MAX + 1)}, "reason"),
        ({"status": DocumentStatus.SUPERSEDED}, "successor"),
        ({"status": DocumentStatus.SUPERSEDED, "superseded_by": "self"}, "successor"),
        ({"superseded_by": "other"}, "successor"),
    ],
)
def test_bad_changes_are_refused_in_japanese_and_change_nothing(
    organisation, document, change, code
):
    if change.get("superseded_by") == "self":
        change["superseded_by"] = document
    elif change.get("superseded_by") == "other":
        change["superseded_by"] = document_record_make(organisation=organisation, now=now())
    with pytest.raises(DocumentStatusError) as refused:
        _set(organisation, document, **change)
    assert refused.value.code == code
    assert any("\u3040" <= ch <= "\u30ff" for ch in str(refused.value))
    document.refresh_from_db()
    assert document.status == DocumentStatus.VALID
    assert not AuditEvent.objects.filter(target_type="document").exists()


def test_a_successor_of_another_kind_or_organisation_is_refused(
    organisation, other_organisation, document
):
    for successor in (
        document_record_make(organisation=other_organisation, now=now()),
        document_record_make(organisation=organisation, kind=DocumentKind.PERMIT, now=now()),
    ):
        with pytest.raises(DocumentStatusError):
            _set(organisation, document, status=DocumentStatus.SUPERSEDED, superseded_by=successor)
    assert Document.objects.get(pk=document.pk).status == DocumentStatus.VALID


def test_another_organisations_document_is_not_found(other_organisation, document):
    with pytest.raises(Document.DoesNotExist):
        _set(other_organisation, document)
