"""The benchmark's insert-only baseline writes exactly what a submission writes, because it
calls the submission's own insert (``applications.bench``), not a copy that can drift."""

from __future__ import annotations

import pytest

from madoguchi.applications.bench import application_insert_only
from madoguchi.applications.models import Application, ApplicationRevision
from madoguchi.applications.services import application_submit, new_idempotency_key
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import counted, procedure_publish, valid_answers


@pytest.fixture
def guest_procedure(organisation):
    """粗大ごみの収集 (ial 1: no account needed)."""
    return procedure_publish(organisation, "sodai-gomi")


def rows() -> tuple[int, ...]:
    return (
        Application.objects.count(),
        ApplicationRevision.objects.count(),
        AuditEvent.objects.filter(action="application.submitted").count(),
        counted(),
        OutboxMessage.objects.count(),
    )


def shape(application: Application) -> dict[str, object]:
    """What a row of an arrival looks like, apart from what differs by nature (ids, times)."""
    revision = ApplicationRevision.objects.get(
        organisation=application.organisation, application=application
    )
    return {
        "organisation": application.organisation_id,
        "procedure": application.procedure_id,
        "form_version": application.form_version_id,
        "status": application.status,
        "revision": application.revision,
        "receipt_prefix": application.receipt_number.split("-")[0],
        "due_days": (application.due_at - application.arrived_at).days
        if application.due_at
        else None,
        "revision_organisation": revision.organisation_id,
        "audit_organisation": AuditEvent.objects.get(
            action="application.submitted", target_id=str(application.pk)
        ).organisation_id,
        "mail_subject": OutboxMessage.objects.filter(payload__to=application.contact_email)
        .values_list("payload__subject", flat=True)
        .get()
        .split("（")[0],
    }


def test_the_baseline_writes_the_rows_of_a_real_submission(guest_procedure):
    before = rows()
    real = application_submit(
        organisation=guest_procedure.organisation,
        procedure=guest_procedure,
        applicant=None,
        answers=valid_answers(guest_procedure),
        idempotency_key=new_idempotency_key(),
        contact_email="guest@example.jp",
        now=now(),
    ).application
    after_real = rows()
    baseline = application_insert_only(
        procedure_id=guest_procedure.pk,
        answers=real.answers,
        contact_email="bench@example.jp",
        idempotency_key=new_idempotency_key(),
        now=now(),
    )
    after_baseline = rows()

    one_submission = tuple(b - a for a, b in zip(before, after_real, strict=True))
    one_baseline = tuple(b - a for a, b in zip(after_real, after_baseline, strict=True))
    assert one_submission == one_baseline == (1, 1, 1, 1, 1)
    assert shape(baseline) == shape(real)
    assert baseline.idempotency_scope == "bench:bench@example.jp"
