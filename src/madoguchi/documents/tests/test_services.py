"""Staff withdraw an issued document with a reason: once, audited, in their organisation only."""

from __future__ import annotations

import pytest

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.documents.models import Document
from madoguchi.documents.services import (
    MAX_STATUS_REASON,
    DocumentNotAllowed,
    DocumentRefused,
    document_withdraw,
)
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.testing import staff_create


@pytest.fixture
def notice(organisation) -> Document:
    """A document of the organisation that no application owns (an application's documents
    are withdrawn through ``applications.notices.application_document_withdraw``)."""
    from madoguchi.documents.testing import document_record_make

    return document_record_make(organisation=organisation, now=now())


def withdraw(staff, document, reason="決定の前提となる事実に誤りがあったため。", **kw):
    return document_withdraw(
        organisation=kw.get("organisation", staff.organisation),
        staff_user=staff.user,
        document_id=document.pk,
        reason=reason,
        now=now(),
    )


def test_an_admin_withdraws_a_notice_with_a_reason_and_it_is_audited(notice, admin_staff):
    withdrawn = withdraw(admin_staff, notice)

    notice.refresh_from_db()
    assert notice.status == "withdrawn" == withdrawn.status
    assert notice.status_reason == "決定の前提となる事実に誤りがあったため。"
    assert notice.status_changed_at is not None
    event = AuditEvent.objects.get(action=AuditAction.DOCUMENT_WITHDRAWN)
    assert event.target_id == str(notice.pk)
    assert event.detail["sha256"] == notice.sha256


def test_a_withdrawn_document_cannot_be_withdrawn_again(notice, admin_staff):
    withdraw(admin_staff, notice)
    with pytest.raises(DocumentRefused, match="すでに取り消されています"):
        withdraw(admin_staff, notice)
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_WITHDRAWN).count() == 1


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "入力してください"),
        ("\u200b \n", "入力してください"),
        ("あ" * (MAX_STATUS_REASON + 1), "文字以内"),
        (None, "正しくありません"),
    ],
)
def test_a_reason_is_required_and_limited(notice, admin_staff, reason, message):
    with pytest.raises(DocumentRefused, match=message):
        withdraw(admin_staff, notice, reason=reason)
    notice.refresh_from_db()
    assert notice.status == "valid"


def test_a_reviewer_without_sign_off_rights_may_not(notice, staff_member):
    with pytest.raises(DocumentNotAllowed, match="団体管理者か決裁権限"):
        withdraw(staff_member, notice)


def test_a_reviewer_with_sign_off_rights_may(notice, staff_member):
    Staff.objects.filter(pk=staff_member.pk).update(may_sign_off=True)
    staff_member.refresh_from_db()
    assert withdraw(staff_member, notice).status == "withdrawn"


def test_a_viewer_may_not_even_with_sign_off_rights(notice, organisation):
    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    Staff.objects.filter(pk=viewer.pk).update(may_sign_off=True)
    viewer.refresh_from_db()
    with pytest.raises(DocumentNotAllowed):
        withdraw(viewer, notice)


def test_another_organisations_document_does_not_exist(notice, other_admin):
    with pytest.raises(Document.DoesNotExist):
        withdraw(other_admin, notice)
    with pytest.raises(DocumentNotAllowed):
        # Naming the document's organisation does not help: not its staff.
        withdraw(other_admin, notice, organisation=notice.organisation)
    notice.refresh_from_db()
    assert notice.status == "valid"


def test_supersede_refuses_a_reason_too_long_instead_of_cutting_it(notice, admin_staff):
    from django.db import transaction

    from madoguchi.documents.services import document_supersede
    from madoguchi.documents.status import status_reason_check

    successor = Document.objects.create(
        organisation=notice.organisation,
        kind=notice.kind,
        title="訂正",
        source_key="test:successor",
        code="TESTCODE0001",
        issued_at=now(),
        pdf=b"%PDF-1.7",
        sha256="0" * 64,
        issued_length=8,
    )
    with pytest.raises(DocumentRefused, match="文字以内"), transaction.atomic():
        document_supersede(
            organisation=notice.organisation,
            staff_user=admin_staff.user,
            document_id=notice.pk,
            successor=successor,
            reason="あ" * (MAX_STATUS_REASON + 1),
            now=now(),
        )
    notice.refresh_from_db()
    assert notice.status == "valid"
    # one validator: what people cannot see is not a reason, in the step as in the service
    assert status_reason_check(" \u200b理由\u3000") == "理由"


def test_an_applications_document_is_not_withdrawn_here(organisation, admin_staff):
    from madoguchi.documents.testing import document_record_make

    document = document_record_make(
        organisation=organisation, source_key="application:7:decision", now=now()
    )
    with pytest.raises(DocumentRefused, match="その申請の画面から"):
        withdraw(admin_staff, document)
    document.refresh_from_db()
    assert document.status == "valid"
