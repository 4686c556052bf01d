"""運用テスト: testers apply through the one submission service; their applications are
marked, never counted, and purged (recorded) when the procedure is published."""

from __future__ import annotations

import io

import pypdf
import pytest

from madoguchi.applications.attachments import attachment_store
from madoguchi.applications.documents import application_receipt_pdf
from madoguchi.applications.duplicates import DuplicateApplication
from madoguchi.applications.models import (
    Application,
    Attachment,
    Draft,
    DuplicateKey,
    PurgedArrivalCount,
)
from madoguchi.applications.publishing import ProcedureStatusError, procedure_set_status
from madoguchi.applications.retention import applications_purge_expired
from madoguchi.applications.review import application_move
from madoguchi.applications.selectors import arrival_counts, procedure_test_applications
from madoguchi.applications.services import ProcedureClosed, draft_save
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, ProcedureTester
from madoguchi.catalog.testers import procedure_test_start, procedure_tester_add
from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import (
    counted,
    invited_tester,
    png_bytes,
    procedure_under_test,
    procedure_with_rule,
    resident_create,
    rule_answers,
    submit,
    valid_answers,
)

pytestmark = pytest.mark.usefixtures("templates_loaded")


@pytest.fixture
def trial(organisation, admin_staff):
    return procedure_under_test(organisation, admin_staff.user)


@pytest.fixture
def tester(trial, admin_staff):
    """花子, invited and matched by her verified address."""
    invited_tester(trial, "hanako.tester@example.jp", admin_staff.user)
    return resident_create("hanako.tester@example.jp", verified=True)


def test_a_tester_applies_and_the_application_is_a_test(trial, tester):
    result = submit(trial, tester, valid_answers(trial))
    application = result.application
    assert application.is_test
    assert AuditEvent.objects.get(action="application.submitted").detail["test"] is True
    mail = OutboxMessage.objects.filter(payload__to=tester.email).latest("pk")
    assert mail.payload["subject"].startswith("【運用テスト】【横浜市】")
    assert "運用テスト" in mail.payload["body"]
    assert procedure_test_applications(organisation=trial.organisation, procedure=trial) == [
        application
    ]


def test_nobody_else_can_apply_to_a_draft(trial, tester, resident, staff_member):
    resident.email_verified_at = now()
    resident.save()
    for who in (resident, staff_member.user, None):
        with pytest.raises(ProcedureClosed):
            submit(trial, who, valid_answers(trial), contact_email="guest@example.jp")
    assert not Application.objects.exists()


def test_a_named_staff_member_applies_with_their_staff_account(
    trial, organisation, admin_staff, staff_member
):
    procedure_tester_add(
        organisation=organisation,
        procedure=trial,
        staff_id=staff_member.pk,
        actor=admin_staff.user,
        now=now(),
    )
    application = submit(trial, staff_member.user, valid_answers(trial)).application
    assert application.is_test
    assert application.applicant == staff_member.user


def test_a_draft_whose_test_has_not_started_takes_nobody(organisation, adopted, resident):
    with pytest.raises(ProcedureClosed):
        submit(adopted, resident, valid_answers(adopted))


def test_a_test_run_leaves_no_trace_in_the_figures(trial, organisation, tester, resident):
    before = list(arrival_counts())
    for _ in range(3):
        submit(trial, tester, valid_answers(trial))
    assert list(arrival_counts()) == before
    assert counted(procedure=trial) == 0
    procedure_set_status(
        organisation=organisation, procedure=trial, status=ProcedureStatus.PUBLISHED
    )
    assert list(arrival_counts()) == before
    assert not PurgedArrivalCount.objects.exists()
    # After publishing, a real application counts as usual.
    resident.email_verified_at = now()
    resident.save()
    trial.refresh_from_db()
    real = submit(trial, resident, valid_answers(trial)).application
    assert not real.is_test
    assert counted(procedure=trial) == 1


def test_publishing_purges_the_test_applications_with_their_rows_and_files(
    trial, organisation, admin_staff, tester, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    application = submit(trial, tester, valid_answers(trial)).application
    application_move(
        organisation=organisation,
        application=application,
        staff=admin_staff,
        to_status="accepted",
        expected_status="submitted",
        now=now(),
    )
    sent = Attachment.objects.create(
        organisation=organisation,
        procedure=trial,
        field_key="residence_document",
        owner=tester,
        application=application,
        revision=1,
        name="書類.pdf",
        kind="pdf",
        content_type="application/pdf",
        size=15,
        sha256="0" * 64,
        created_at=now(),
    )
    path = tmp_path / "files" / "attachments" / sent.pk.hex[:2] / f"{sent.pk.hex}.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"encrypted bytes")
    # What the tester uploaded and never sent, and a draft left unsent, go too.
    attachment_store(
        procedure=trial,
        field_key="residence_document",
        owner=tester,
        guest_key="",
        name="書類.png",
        data=png_bytes(),
        now=now(),
    )
    draft_save(
        organisation=organisation,
        procedure=trial,
        applicant=tester,
        answers={},
        step="",
        now=now(),
    )
    assert len(_stored_files(tmp_path)) == 2
    receipt = application.receipt_number

    procedure_set_status(
        organisation=organisation,
        procedure=trial,
        status=ProcedureStatus.PUBLISHED,
        actor=admin_staff.user,
        now=now(),
        expected=ProcedureStatus.DRAFT,
    )

    assert not Application.objects.filter(procedure=trial).exists()
    assert not Attachment.objects.filter(procedure=trial).exists()
    assert not Draft.objects.filter(procedure=trial).exists()
    assert not ProcedureTester.objects.filter(procedure=trial).exists()
    assert _stored_files(tmp_path) == []
    trial.refresh_from_db()
    assert trial.status == ProcedureStatus.PUBLISHED
    assert trial.test_started_at is None
    purged = AuditEvent.objects.get(action="procedure.test_purged")
    assert purged.detail["applications"] == 1
    assert purged.detail["receipt_numbers"] == [receipt]
    assert purged.detail["attachments"] == 2
    assert purged.detail["drafts"] == 1
    assert purged.detail["testers"] == 1
    assert purged.actor == admin_staff.user
    assert "example.jp" not in str(purged.detail)
    status = AuditEvent.objects.get(action="procedure.status_set")
    assert status.detail == {"before": "draft", "after": "published"}


def _stored_files(root) -> list[str]:
    folder = root / "files"
    return [str(p) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_publishing_twice_is_refused_and_purges_once(trial, organisation, tester):
    submit(trial, tester, valid_answers(trial))
    procedure_set_status(
        organisation=organisation,
        procedure=trial,
        status=ProcedureStatus.PUBLISHED,
        expected=ProcedureStatus.DRAFT,
    )
    with pytest.raises(ProcedureStatusError, match="既に「公開中」"):
        procedure_set_status(
            organisation=organisation,
            procedure=trial,
            status=ProcedureStatus.PUBLISHED,
            expected=ProcedureStatus.DRAFT,
        )
    # Without ``expected`` the same status is simply no change.
    procedure_set_status(
        organisation=organisation, procedure=trial, status=ProcedureStatus.PUBLISHED
    )
    assert AuditEvent.objects.filter(action="procedure.test_purged").count() == 1
    assert AuditEvent.objects.filter(action="procedure.status_set").count() == 1


def test_another_organisation_cannot_publish(trial, other_organisation, tester):
    submit(trial, tester, valid_answers(trial))
    with pytest.raises(Procedure.DoesNotExist):
        procedure_set_status(
            organisation=other_organisation, procedure=trial, status=ProcedureStatus.PUBLISHED
        )
    trial.refresh_from_db()
    assert trial.status == ProcedureStatus.DRAFT
    assert Application.objects.filter(procedure=trial, is_test=True).count() == 1


def test_a_test_of_a_procedure_taken_back_keeps_the_real_applications(
    organisation, admin_staff, procedure, resident
):
    resident.email_verified_at = now()
    resident.save()
    real = submit(procedure, resident, valid_answers(procedure)).application
    procedure_set_status(
        organisation=organisation, procedure=procedure, status=ProcedureStatus.DRAFT
    )
    procedure.refresh_from_db()
    procedure_test_start(
        organisation=organisation, procedure=procedure, actor=admin_staff.user, now=now()
    )
    invited_tester(procedure, "tester2@example.jp", admin_staff.user)
    tester = resident_create("tester2@example.jp", verified=True)
    test = submit(procedure, tester, valid_answers(procedure)).application
    procedure_set_status(
        organisation=organisation, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )
    assert list(Application.objects.filter(procedure=procedure)) == [real]
    assert not Application.objects.filter(pk=test.pk).exists()


def test_a_test_application_does_not_block_a_real_one_after_publishing(organisation, admin_staff):
    rule = procedure_with_rule(organisation, "person", actor=admin_staff.user)
    procedure_set_status(organisation=organisation, procedure=rule, status=ProcedureStatus.DRAFT)
    rule.refresh_from_db()
    procedure_test_start(
        organisation=organisation, procedure=rule, actor=admin_staff.user, now=now()
    )
    invited_tester(rule, "tester@example.jp", admin_staff.user)
    tester = resident_create("tester@example.jp", verified=True)
    submit(rule, tester, rule_answers())
    # During the test the rule works as it will for real: the same person a second time.
    with pytest.raises(DuplicateApplication):
        submit(rule, tester, rule_answers())
    assert DuplicateKey.objects.filter(procedure=rule).exists()
    procedure_set_status(
        organisation=organisation, procedure=rule, status=ProcedureStatus.PUBLISHED
    )
    assert not DuplicateKey.objects.filter(procedure=rule).exists()
    rule.refresh_from_db()
    real = submit(rule, resident_create("yamada@example.jp", verified=True), rule_answers())
    assert not real.application.is_test


def test_the_receipt_pdf_says_it_is_a_test(trial, tester):
    application = submit(trial, tester, valid_answers(trial)).application
    reader = pypdf.PdfReader(io.BytesIO(application_receipt_pdf(application, now=now())))
    assert reader.metadata is not None
    assert (reader.metadata.title or "").startswith("【運用テスト】")


def test_retention_never_tallies_a_test_application(trial, organisation, admin_staff, tester):
    application = submit(trial, tester, valid_answers(trial)).application
    # Closed long ago (set directly: the story is about the purge, not the workflow).
    Procedure.objects.filter(pk=trial.pk).update(retention_years=1)
    Application.objects.filter(pk=application.pk).update(
        status="withdrawn", arrived_at=now().replace(year=2000)
    )
    assert applications_purge_expired(now=now()).purged == 1
    assert not PurgedArrivalCount.objects.exists()


def test_a_test_decision_takes_no_real_number_and_publishing_withdraws_and_purges_it(
    trial, organisation, admin_staff, tester
):
    import io
    import re

    import pypdf

    from madoguchi.applications.review import application_decide
    from madoguchi.documents.models import Document, NumberSeries

    application = submit(trial, tester, valid_answers(trial)).application
    application = application_move(
        organisation=organisation,
        application=application,
        staff=admin_staff,
        to_status="accepted",
        expected_status="submitted",
        now=now(),
    )
    issued = application_decide(
        organisation=organisation,
        application=application,
        staff=admin_staff,
        outcome="approve",
        reason="",
        expected_status="accepted",
        now=now(),
    )
    record = issued.record
    assert record.number == "（運用テスト）"
    assert record.series is None
    assert not NumberSeries.objects.filter(organisation=organisation, last_number__gt=0).exists()
    reader = pypdf.PdfReader(io.BytesIO(bytes(record.pdf)))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    assert "運用テスト" in text
    assert "効力はありません" in text

    procedure_set_status(
        organisation=organisation,
        procedure=trial,
        status=ProcedureStatus.PUBLISHED,
        actor=admin_staff.user,
        now=now(),
        expected=ProcedureStatus.DRAFT,
    )

    record = Document.objects.get(pk=record.pk)
    assert record.status == "withdrawn"
    assert record.status_reason == "運用テストの文書です"
    assert record.purged_at is not None
    assert bytes(record.pdf) == b""
