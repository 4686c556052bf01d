"""Applications past their procedure's retention period are purged, with everything attached
to them, and the purge is recorded without the personal data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    ApplicationNote,
    ApplicationRevision,
    ApplicationTransition,
    Attachment,
    IssuedDocument,
)
from madoguchi.applications.retention import applications_purge_expired, retention_cutoff
from madoguchi.applications.workflow import application_transition, message_send
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.documents.testing import document_record_make
from madoguchi.testing import answers_with_file_rows as valid_answers
from madoguchi.testing import procedure_publish, submit


@pytest.fixture
def procedure(organisation):
    return procedure_publish(organisation, "juminhyo", retention_years=5)


@pytest.fixture
def files_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    root = tmp_path / "files"
    root.mkdir()
    return root


def application_aged(procedure, resident, staff_member, *, years, days=1, status=S.REJECTED):
    """An application that arrived ``years`` years and ``days`` days ago, then closed."""
    application = submit(procedure, resident, valid_answers(procedure, resident)).application
    if status != S.SUBMITTED:
        application_transition(
            organisation=procedure.organisation,
            application=application,
            to_status=status,
            staff_user=staff_member.user,
            reason="要件を満たしていないため",
            now=now(),
        )
    arrived = now() - timedelta(days=365 * years + (years // 4) + days)
    Application.objects.filter(pk=application.pk).update(arrived_at=arrived)
    application.refresh_from_db()
    return application


def with_everything(application, staff_member, files_dir: Path) -> list[Path]:
    """Messages, a note, an issued document and a stored attachment file."""
    message_send(
        organisation=application.organisation,
        application=application,
        staff_user=staff_member.user,
        body="審査の結果をお知らせします。",
        now=now(),
    )
    ApplicationNote.objects.create(
        organisation=application.organisation,
        application=application,
        author=staff_member.user,
        body="電話で確認済み",
        created_at=now(),
    )
    IssuedDocument.objects.create(
        organisation=application.organisation,
        application=application,
        kind="decision_reject",
        title="却下通知書",
        record=document_record_make(
            organisation=application.organisation, pdf=b"%PDF-1.7 fake", now=now()
        ),
        created_at=now(),
    )
    for name in ("本人確認書類.jpg", "委任状.pdf"):
        Attachment.objects.create(
            organisation=application.organisation,
            procedure=application.procedure,
            field_key="documents",
            owner=application.applicant,
            application=application,
            revision=1,
            name=name,
            kind="pdf",
            content_type="application/pdf",
            size=15,
            sha256="0" * 64,
            created_at=now(),
        )
    paths = []
    for attachment in Attachment.objects.filter(application=application):
        path = files_dir / "attachments" / attachment.pk.hex[:2] / f"{attachment.pk.hex}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"encrypted bytes")
        paths.append(path)
    return paths


def test_a_closed_application_past_its_period_is_purged_with_everything(
    procedure, resident, staff_member, files_dir
):
    application = application_aged(procedure, resident, staff_member, years=5)
    paths = with_everything(application, staff_member, files_dir)
    assert len(paths) >= 2
    unrelated = files_dir / "attachments" / "ff" / "someone-elses.bin"
    unrelated.parent.mkdir(parents=True, exist_ok=True)
    unrelated.write_bytes(b"keep me")
    pk = application.pk

    report = applications_purge_expired(now=now())

    assert report.purged == 1
    assert report.files_deleted == len(paths) >= 1
    assert not Application.objects.filter(pk=pk).exists()
    for model in (
        ApplicationRevision,
        ApplicationMessage,
        ApplicationNote,
        ApplicationTransition,
        Attachment,
        IssuedDocument,
    ):
        assert not model.objects.filter(application_id=pk).exists(), model
    assert not any(path.exists() for path in paths)
    assert unrelated.exists()


def test_the_purge_is_recorded_without_personal_data(procedure, resident, staff_member, files_dir):
    answers = valid_answers(procedure, resident)
    application = submit(procedure, resident, answers).application
    application_transition(
        organisation=procedure.organisation,
        application=application,
        to_status=S.REJECTED,
        staff_user=staff_member.user,
        now=now(),
    )
    arrived = datetime(2019, 4, 1, 0, 30, tzinfo=UTC)  # 2019-04-01 09:30 in Japan
    Application.objects.filter(pk=application.pk).update(arrived_at=arrived)

    applications_purge_expired(now=now())

    event = AuditEvent.objects.get(action="application.purged")
    assert event.organisation == procedure.organisation
    assert event.target_id == str(application.pk)
    assert event.detail["receipt_number"] == application.receipt_number
    assert event.detail["procedure"] == procedure.pk
    assert event.detail["arrived_date"] == "2019-04-01"
    assert event.detail["retention_years"] == 5
    assert "保存期間" in event.reason
    recorded = json.dumps(event.detail, ensure_ascii=False) + event.reason + event.actor_label
    for value in _text_leaves(answers):
        if len(value) >= 2:
            assert value not in recorded, value
    assert "hanako" not in recorded
    # The submission's own audit events stay: the trail outlives the data.
    assert AuditEvent.objects.filter(
        action="application.submitted", target_id=str(application.pk)
    ).exists()


def _text_leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _text_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _text_leaves(item)
    elif isinstance(value, str):
        yield value


def test_open_and_young_applications_are_kept(procedure, resident, staff_member, files_dir):
    young = application_aged(procedure, resident, staff_member, years=4, days=300)
    open_case = application_aged(procedure, resident, staff_member, years=9, status=S.SUBMITTED)
    in_review = application_aged(procedure, resident, staff_member, years=9, status=S.ACCEPTED)
    approved = application_aged(procedure, resident, staff_member, years=6, status=S.ACCEPTED)
    application_transition(
        organisation=procedure.organisation,
        application=approved,
        to_status=S.APPROVED,
        staff_user=staff_member.user,
        now=now(),
    )

    report = applications_purge_expired(now=now())

    assert report.purged == 1
    assert report.kept_open == 2
    assert set(Application.objects.values_list("pk", flat=True)) == {
        young.pk,
        open_case.pk,
        in_review.pk,
    }
    # Once the open case is closed it goes on the next run; a second run finds nothing else.
    application_transition(
        organisation=procedure.organisation,
        application=open_case,
        to_status=S.REJECTED,
        staff_user=staff_member.user,
        now=now(),
    )
    assert applications_purge_expired(now=now()).purged == 1
    assert applications_purge_expired(now=now()).purged == 0


def test_each_procedure_has_its_own_period(procedure, resident, staff_member, files_dir):
    application = application_aged(procedure, resident, staff_member, years=2)
    assert applications_purge_expired(now=now()).purged == 0

    Procedure.objects.filter(pk=procedure.pk).update(retention_years=1)

    assert applications_purge_expired(now=now()).purged == 1
    assert not Application.objects.filter(pk=application.pk).exists()


def test_a_batch_limit_leaves_the_rest_for_the_next_run(
    procedure, resident, staff_member, files_dir
):
    for _ in range(3):
        application_aged(procedure, resident, staff_member, years=6)

    assert applications_purge_expired(now=now(), limit=2).purged == 2
    assert applications_purge_expired(now=now(), limit=2).purged == 1
    assert not Application.objects.exists()


def test_the_cutoff_counts_calendar_years_in_japan_time():
    # 2030-03-01 00:30 in Japan is still 28 February in UTC.
    at = datetime(2030, 2, 28, 15, 30, tzinfo=UTC)
    assert retention_cutoff(now=at, years=5).isoformat() == "2025-03-01T00:30:00+09:00"
    # From a 29 February, the same day of a common year is the 28th.
    leap = datetime(2028, 2, 29, 3, 0, tzinfo=UTC)
    assert retention_cutoff(now=leap, years=1).date().isoformat() == "2027-02-28"


def test_the_command_purges_and_reports(procedure, resident, staff_member, files_dir):
    application_aged(procedure, resident, staff_member, years=7)
    application_aged(procedure, resident, staff_member, years=7, status=S.SUBMITTED)
    out = StringIO()

    call_command("purge_expired", stdout=out, stderr=StringIO())

    assert "1 件削除しました" in out.getvalue()
    assert "処理中の申請が 1 件" in out.getvalue()
    assert Application.objects.count() == 1
    assert Path(settings.DATA_DIR).exists()


def test_purged_applications_stay_in_the_statistics(procedure, resident, staff_member):
    from madoguchi.applications.selectors import arrival_counts

    kept = application_aged(procedure, resident, staff_member, years=5)
    arrived = datetime(2019, 4, 1, 0, 30, tzinfo=UTC)  # April 2019 in Japan
    Application.objects.filter(pk=kept.pk).update(arrived_at=arrived)
    before = [(r.month, r.channel, r.count) for r in arrival_counts()]
    assert before == [(arrived.date().replace(day=1), "online", 1)]

    assert applications_purge_expired(now=now()).purged == 1

    assert not Application.objects.filter(pk=kept.pk).exists()
    assert [(r.month, r.channel, r.count) for r in arrival_counts()] == before


def test_the_purge_empties_the_receipts_and_every_document_of_the_application(
    procedure, resident, staff_member, files_dir
):
    from madoguchi.applications.documents import application_receipt_issue
    from madoguchi.documents.models import Document

    application = application_aged(procedure, resident, staff_member, years=5)
    keep = application_aged(procedure, resident, staff_member, years=0)
    receipt = application_receipt_issue(
        organisation=procedure.organisation, application=application, now=now()
    )
    kept = application_receipt_issue(
        organisation=procedure.organisation, application=keep, now=now()
    )

    applications_purge_expired(now=now())

    receipt.refresh_from_db()
    kept.refresh_from_db()
    assert receipt.purged_at is not None
    assert bytes(receipt.pdf) == b""
    assert receipt.code  # still verifiable by its holder
    assert receipt.sha256
    assert kept.purged_at is None
    assert bytes(kept.pdf).startswith(b"%PDF")
    assert Document.objects.filter(source_key__startswith=f"application:{application.pk}:")


def test_a_source_prefix_without_a_colon_is_refused(organisation):
    from madoguchi.documents.register import documents_purge_by_source_prefix

    with pytest.raises(ValueError, match="must end with"):
        documents_purge_by_source_prefix(
            organisation=organisation, prefix="application:1", now=now()
        )
