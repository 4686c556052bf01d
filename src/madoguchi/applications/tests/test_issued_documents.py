"""The documents an application gets, as issued documents: the receipt (到達通知) is issued
once, on first download, and served; a 罹災証明書 procedure's approval issues the certificate
beside the notice, in the decision's transaction."""

from __future__ import annotations

import io
import re
import threading

import pypdf
import pytest
from django.db import connection

from madoguchi.applications.constants import Decision, IssuedDocumentKind
from madoguchi.applications.documents import application_receipt_issue, receipt_source_key
from madoguchi.applications.review import application_decide, application_move
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.models import Document, RegisterEntry
from madoguchi.testing import answers_with_file_rows, procedure_publish, submit, valid_answers


def logged_in(client, user):
    """``client`` logged in as ``user``, a resident who has confirmed their e-mail."""
    user.email_verified_at = now()
    user.save(update_fields=["email_verified_at"])
    client.force_login(user)
    return client


def decide(application, staff, outcome, reason, damage_level=""):
    """Accept (受付), review (審査中) and decide ``application`` as ``staff``."""
    for status in ("accepted", "in_review"):
        application = application_move(
            organisation=application.organisation,
            application=application,
            staff=staff,
            to_status=status,
            expected_status=application.status,
            now=now(),
        )
    return application_decide(
        organisation=application.organisation,
        application=application,
        staff=staff,
        outcome=outcome,
        reason=reason,
        expected_status=application.status,
        now=now(),
        damage_level=damage_level,
    )


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def application(procedure, resident):
    return submit(procedure, resident, valid_answers(procedure)).application


def test_the_submission_issues_no_document(application):
    assert not Document.objects.filter(source_key=receipt_source_key(application)).exists()


def test_the_receipt_is_issued_once_registered_and_audited(organisation, application):
    first = application_receipt_issue(organisation=organisation, application=application, now=now())
    again = application_receipt_issue(organisation=organisation, application=application, now=now())

    assert again.pk == first.pk
    assert first.kind == DocumentKind.RECEIPT
    assert first.number == application.receipt_number
    assert first.series is None  # numbered by its receipt number, no series taken
    assert first.source_key == f"application:{application.pk}:receipt"
    assert first.name == "到達通知"  # the name as printed; the title keeps the receipt number
    assert application.receipt_number in first.title
    assert RegisterEntry.objects.filter(document=first).count() == 1
    events = AuditEvent.objects.filter(action=AuditAction.DOCUMENT_RECEIPT_ISSUED)
    assert events.count() == 1
    assert events.get().detail["document"] == first.pk
    body = text_of(bytes(first.pdf))
    assert "到達通知" in body
    assert application.receipt_number in body
    assert first.code in body  # the verification block


def test_another_organisations_application_gets_no_receipt(other_organisation, application):
    with pytest.raises(type(application).DoesNotExist):
        application_receipt_issue(
            organisation=other_organisation, application=application, now=now()
        )
    assert not Document.objects.exists()


def test_the_portal_serves_the_issued_receipt_the_same_each_time(client, resident, application):
    logged_in(client, resident)
    url = f"/applications/{application.receipt_number}/receipt.pdf"

    first = client.get(url)
    second = client.get(url)

    assert first.status_code == 200
    assert first["Content-Type"] == "application/pdf"
    document = Document.objects.get(source_key=receipt_source_key(application))
    assert first.content == second.content == bytes(document.pdf)
    assert Document.objects.filter(kind=DocumentKind.RECEIPT).count() == 1


def test_someone_elses_receipt_is_not_found_and_not_issued(client, other_resident, application):
    logged_in(client, other_resident)

    response = client.get(f"/applications/{application.receipt_number}/receipt.pdf")

    assert response.status_code == 404
    assert not Document.objects.exists()


@pytest.fixture
def risai(organisation, templates_loaded):
    return procedure_publish(organisation, "risai-shomei")


def risai_answers(risai, resident, **changes):
    answers = answers_with_file_rows(risai, owner=resident)
    answers.update(changes)
    return answers


def test_approving_a_disaster_certificate_application_issues_the_certificate(
    organisation, risai, resident, staff_member
):
    application = submit(
        risai, resident, risai_answers(risai, resident, assessment_method="survey")
    ).application

    notice = decide(
        application,
        staff_member,
        Decision.APPROVE,
        "現地調査（令和8年10月2日）の結果、大規模半壊と判定しました。",
        "大規模半壊",
    )

    issued = {d.kind: d for d in application.documents.select_related("record")}
    assert set(issued) == {IssuedDocumentKind.DECISION_APPROVE, IssuedDocumentKind.CERTIFICATE}
    assert issued[IssuedDocumentKind.DECISION_APPROVE].pk == notice.pk
    certificate = issued[IssuedDocumentKind.CERTIFICATE].record
    assert certificate.kind == DocumentKind.CERTIFICATE
    assert certificate.name == "罹災証明書"
    assert certificate.number
    assert certificate.number != notice.record.number
    assert certificate.source_key == f"application:{application.pk}:certificate"
    assert RegisterEntry.objects.filter(document=certificate).count() == 1
    body = text_of(bytes(certificate.pdf))
    assert "罹災証明書" in body
    assert f"証明書番号{certificate.number}" in body
    assert "■大規模半壊" in body
    assert certificate.code in body
    assert AuditEvent.objects.filter(
        action=AuditAction.DOCUMENT_CERTIFICATE_ISSUED, target_id=str(application.pk)
    ).exists()


def test_a_self_assessed_approval_certifies_partial_damage(
    organisation, risai, resident, staff_member
):
    answers = risai_answers(risai, resident, assessment_method="self", self_assessment_consent=True)
    answers.pop("survey_notes", None)
    application = submit(risai, resident, answers).application

    decide(application, staff_member, Decision.APPROVE, "", "準半壊に至らない（一部損壊）")

    certificate = application.documents.get(kind=IssuedDocumentKind.CERTIFICATE).record
    assert "■準半壊に至らない（一部損壊）" in text_of(bytes(certificate.pdf))


def test_the_certificate_ticks_the_level_chosen_not_a_word_of_the_reason(
    organisation, risai, resident, staff_member
):
    application = submit(risai, resident, risai_answers(risai, resident)).application

    decide(
        application, staff_member, Decision.APPROVE, "全壊には至らず、半壊と判定しました", "半壊"
    )

    body = text_of(bytes(application.documents.get(kind=IssuedDocumentKind.CERTIFICATE).record.pdf))
    assert "■半壊" in body
    assert "■全壊" not in body
    assert "全壊には至らず、半壊と判定しました" in body  # the reason stays free text (備考)


@pytest.mark.parametrize(
    ("level", "message"), [("", "被害の程度を選んでください"), ("大破", "いずれかを選んでください")]
)
def test_approving_a_certificate_without_a_valid_level_is_refused(
    organisation, risai, resident, staff_member, level, message
):
    from madoguchi.applications.review import ReviewError

    application = submit(risai, resident, risai_answers(risai, resident)).application

    with pytest.raises(ReviewError, match=message):
        decide(application, staff_member, Decision.APPROVE, "半壊と判定しました", level)

    assert not Document.objects.exclude(kind=DocumentKind.RECEIPT).exists()


def test_a_refusal_issues_no_certificate(organisation, risai, resident, staff_member):
    application = submit(risai, resident, risai_answers(risai, resident)).application

    decide(application, staff_member, Decision.REJECT, "被災した住家が本市の区域外にあるため。")

    assert list(application.documents.values_list("kind", flat=True)) == [
        IssuedDocumentKind.DECISION_REJECT
    ]
    assert not Document.objects.filter(kind=DocumentKind.CERTIFICATE).exists()


def test_other_procedures_approvals_issue_no_certificate(organisation, application, staff_member):
    decide(application, staff_member, Decision.APPROVE, "")

    assert not Document.objects.filter(kind=DocumentKind.CERTIFICATE).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_downloads_issue_one_receipt(organisation, procedure, resident):
    application = submit(procedure, resident, valid_answers(procedure)).application
    results, errors = [], []

    def attempt():
        try:
            results.append(
                application_receipt_issue(
                    organisation=organisation, application=application, now=now()
                ).pk
            )
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert len(set(results)) == 1
    assert Document.objects.filter(kind=DocumentKind.RECEIPT).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_RECEIPT_ISSUED).count() == 1


@pytest.mark.parametrize(
    "number",
    ["x", "9" * 500, "%3Cscript%3E", "141003-261205-0000000%00", "..%2F..%2Fetc", "１４１００３"],
)
def test_a_hostile_receipt_number_answers_not_found_and_issues_nothing(
    client, resident, application, number
):
    logged_in(client, resident)

    response = client.get(f"/applications/{number}/receipt.pdf")

    assert response.status_code == 404
    assert client.get(f"/mypage/{number}/").status_code == 404
    assert not Document.objects.exists()


def test_a_certificate_with_a_wrong_level_is_corrected_and_replaced(
    organisation, risai, resident, staff_member, admin_staff
):
    from madoguchi.applications.notices import certificate_correct
    from madoguchi.applications.review import ReviewError

    application = submit(risai, resident, risai_answers(risai, resident)).application
    decide(application, staff_member, Decision.APPROVE, "現地調査の結果", "全壊")
    old = application.documents.get(kind=IssuedDocumentKind.CERTIFICATE).record

    with pytest.raises(ReviewError, match="被害の程度を選んでください"):
        certificate_correct(
            organisation=organisation,
            staff=admin_staff,
            application=application,
            document_id=old.pk,
            damage_level="",
            note_text="",
            correction_note="被害の程度を訂正しました。",
            now=now(),
        )
    corrected = certificate_correct(
        organisation=organisation,
        staff=admin_staff,
        application=application,
        document_id=old.pk,
        damage_level="半壊",
        note_text="全壊には至らず、半壊と判定しました",
        correction_note="被害の程度の記載を誤っていたため訂正しました。",
        now=now(),
    )

    old.refresh_from_db()
    assert old.status == "superseded"
    assert old.superseded_by_id == corrected.record_id
    body = text_of(bytes(corrected.record.pdf))
    assert "罹災証明書（訂正）" in body
    assert "■半壊" in body
    assert "■全壊" not in body
    assert f"付け{old.number}の罹災証明書を訂正し" in body
    assert corrected.record.number != old.number
