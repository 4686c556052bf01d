"""Staff replace a decision notice with a corrected one (訂正通知): a new number and code, the
old one superseded and pointing to it, the applicant told — once, and in their own
organisation only."""

from __future__ import annotations

import io

import pytest

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import ApplicationMessage, IssuedDocument
from madoguchi.applications.notices import application_document_withdraw, decision_notice_correct
from madoguchi.applications.review import ReviewError, application_decide, application_move
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.documents.models import Document, RegisterEntry
from madoguchi.documents.services import DocumentNotAllowed, DocumentRefused
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import submit_named as apply


def decide(procedure, resident, staff, outcome="reject", reason="所得が基準を超えています。"):
    application = apply(procedure, resident)
    for to_status in (S.ACCEPTED, S.IN_REVIEW):
        application = application_move(
            organisation=procedure.organisation,
            application=application,
            staff=staff,
            to_status=to_status,
            expected_status=application.status,
            now=now(),
        )
    issued = application_decide(
        organisation=procedure.organisation,
        application=application,
        staff=staff,
        outcome=outcome,
        reason=reason,
        expected_status=application.status,
        now=now(),
    )
    application.refresh_from_db()
    return application, issued


@pytest.fixture
def rejected(procedure, resident, staff_member):
    return decide(procedure, resident, staff_member)


def correct(staff, application, document, **kw):
    values = {
        "reason_text": "所得が基準額（年額360万円）を超えています。",
        "correction_note": "理由に基準額を書き加えました。",
    }
    values.update(kw)
    return decision_notice_correct(
        organisation=kw.pop("organisation", staff.organisation),
        staff=staff,
        application=application,
        document_id=document.pk,
        reason_text=values["reason_text"],
        correction_note=values["correction_note"],
        now=now(),
    )


def text_of(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace(" ", "")


def test_a_corrected_notice_replaces_the_old_one(rejected, admin_staff):
    application, issued = rejected
    old = issued.record
    OutboxMessage.objects.all().delete()

    corrected = correct(admin_staff, application, old)

    old.refresh_from_db()
    new = corrected.record
    assert old.status == "superseded"
    assert old.superseded_by_id == new.pk
    assert old.status_reason == "理由に基準額を書き加えました。"
    assert new.status == "valid"
    assert new.kind == old.kind == "decision_reject"
    assert new.code != old.code
    assert new.number != old.number
    assert new.number
    assert new.source_key == f"application:{application.pk}:decision:correction:1"
    assert RegisterEntry.objects.filter(document=new).exists()
    text = text_of(bytes(new.pdf))
    assert "年額360万円" in text
    assert "訂正" in text
    assert old.number in text
    flat = text.replace("\n", "")
    assert "却下通知書（訂正）" in flat
    assert f"付け{old.number}の却下通知書を訂正し、差し替えるものです" in flat
    # The applicant is told as by a decision: the document, a message, a mail.
    assert IssuedDocument.objects.filter(application=application).count() == 2
    message = ApplicationMessage.objects.filter(application=application, kind="decision").latest(
        "pk"
    )
    assert "訂正" in message.body
    assert "理由に基準額を書き加えました。" in message.body
    assert "訂正" in OutboxMessage.objects.get().payload["subject"]
    assert AuditEvent.objects.filter(
        action=AuditAction.DOCUMENT_SUPERSEDED, target_id=str(old.pk)
    ).exists()
    application.refresh_from_db()
    assert application.status == S.REJECTED


def test_a_corrected_notice_can_itself_be_corrected(rejected, admin_staff):
    application, issued = rejected
    first = correct(admin_staff, application, issued.record)
    second = correct(admin_staff, application, first.record, correction_note="誤字を直しました。")

    assert second.record.source_key.endswith(":correction:2")
    first.record.refresh_from_db()
    assert first.record.superseded_by_id == second.record.pk


def test_a_superseded_or_withdrawn_notice_cannot_be_corrected(rejected, admin_staff):
    application, issued = rejected
    correct(admin_staff, application, issued.record)
    with pytest.raises(DocumentRefused):
        correct(admin_staff, application, issued.record)

    application2, issued2 = (
        rejected[0],
        IssuedDocument.objects.filter(application=application).latest("pk"),
    )
    application_document_withdraw(
        organisation=admin_staff.organisation,
        staff=admin_staff,
        application=application2,
        issued_id=issued2.pk,
        reason="誤って交付したため。",
        now=now(),
    )
    with pytest.raises(DocumentRefused):
        correct(admin_staff, application2, issued2.record)
    assert Document.objects.filter(organisation=admin_staff.organisation).count() == 2


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"correction_note": ""}, DocumentRefused),
        ({"correction_note": "あ" * 401}, DocumentRefused),
        ({"reason_text": ""}, ReviewError),  # a rejection needs its reason
        ({"reason_text": "あ" * 3000}, ReviewError),
    ],
)
def test_what_was_typed_is_checked_and_nothing_is_issued(rejected, admin_staff, fields, error):
    application, issued = rejected
    count = Document.objects.count()
    with pytest.raises(error):
        correct(admin_staff, application, issued.record, **fields)
    assert Document.objects.count() == count
    issued.record.refresh_from_db()
    assert issued.record.status == "valid"


def test_a_reviewer_without_sign_off_rights_may_not_correct(rejected, staff_member):
    application, issued = rejected
    with pytest.raises(DocumentNotAllowed):
        correct(staff_member, application, issued.record)


def test_another_organisations_notice_does_not_exist(rejected, other_admin):
    application, issued = rejected
    with pytest.raises(IssuedDocument.DoesNotExist):
        correct(other_admin, application, issued.record)
    with pytest.raises(IssuedDocument.DoesNotExist):
        correct(other_admin, application, issued.record, organisation=application.organisation)


def test_a_document_of_another_application_is_not_found(
    procedure, resident, staff_member, admin_staff
):
    first, _ = decide(procedure, resident, staff_member)
    _, other_issued = decide(procedure, resident, staff_member, outcome="approve", reason="")
    with pytest.raises(IssuedDocument.DoesNotExist):
        correct(admin_staff, first, other_issued.record)


@pytest.mark.django_db(transaction=True)
def test_two_staff_correcting_at_once_make_one_correction(
    procedure, resident, staff_member, admin_staff
):
    import threading

    from django.db import connection

    from madoguchi.identity.constants import StaffRole
    from madoguchi.testing import staff_create

    second = staff_create(
        admin_staff.organisation, email="admin2@yokohama.test", role=StaffRole.ADMIN
    )
    application, issued = decide(procedure, resident, staff_member)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def run(staff):
        try:
            barrier.wait()
            correct(
                staff, application, issued.record, correction_note=f"{staff.pk}が訂正しました。"
            )
            outcomes.append("ok")
        except DocumentRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(s,)) for s in (admin_staff, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok", "refused"]
    assert IssuedDocument.objects.filter(application=application).count() == 2
    old = Document.objects.get(pk=issued.record_id)
    assert old.status == "superseded"
    assert Document.objects.filter(superseded_by__isnull=False).count() == 1


def test_withdrawing_a_notice_tells_the_applicant_like_a_decision(rejected, admin_staff):
    application, issued = rejected
    OutboxMessage.objects.all().delete()

    application_document_withdraw(
        organisation=admin_staff.organisation,
        staff=admin_staff,
        application=application,
        issued_id=issued.pk,
        reason="審査の前提となる事実に誤りがあったため。",
        now=now(),
    )

    issued.record.refresh_from_db()
    assert issued.record.status == "withdrawn"
    message = ApplicationMessage.objects.filter(application=application).latest("pk")
    assert "取り消しました" in message.body
    assert "審査の前提となる事実に誤りがあったため。" in message.body
    mail = OutboxMessage.objects.get(topic=OutboxMessage.Topic.EMAIL)
    assert "取消し" in mail.payload["subject"]
    assert "審査の前提" not in mail.payload["body"]  # the mail carries no content
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_WITHDRAWN).count() == 1
    with pytest.raises(DocumentRefused, match="すでに取り消されています"):
        application_document_withdraw(
            organisation=admin_staff.organisation,
            staff=admin_staff,
            application=application,
            issued_id=issued.pk,
            reason="もう一度",
            now=now(),
        )


def test_a_reviewer_without_sign_off_rights_cannot_withdraw(rejected, staff_member):
    application, issued = rejected
    with pytest.raises(DocumentNotAllowed):
        application_document_withdraw(
            organisation=staff_member.organisation,
            staff=staff_member,
            application=application,
            issued_id=issued.pk,
            reason="誤り",
            now=now(),
        )
    issued.record.refresh_from_db()
    assert issued.record.status == "valid"
