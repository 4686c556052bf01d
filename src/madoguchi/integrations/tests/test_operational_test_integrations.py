"""運用テスト: test applications never reach a core system — not in an export, not by
webhook, not through the staff API. The story: a published procedure with a real
application is taken back to 準備中 for a test of a change; a tester applies."""

from __future__ import annotations

import csv
import io

import pytest

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.review import application_move
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.testers import procedure_test_start
from madoguchi.core.time import now
from madoguchi.integrations.exports import ExportOptions, applications_export
from madoguchi.integrations.models import WebhookDelivery
from madoguchi.integrations.webhooks import (
    EVENT_STATUS_CHANGED,
    EVENT_SUBMITTED,
    webhook_endpoint_create,
)
from madoguchi.testing import (
    invited_tester,
    resident_create,
    staff_token,
    submit,
    valid_answers,
)

pytestmark = pytest.mark.usefixtures("templates_loaded")


@pytest.fixture
def hook(organisation, admin_staff, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    item, _secret = webhook_endpoint_create(
        organisation=organisation,
        url="http://127.0.0.1:9/hook",
        events=[EVENT_SUBMITTED, EVENT_STATUS_CHANGED],
        actor=admin_staff.user,
        now=now(),
    )
    return item


@pytest.fixture
def story(organisation, admin_staff, procedure, hook):
    """(real, test): the real application made while published, the test one after."""
    applicant = resident_create("real@example.jp", verified=True)
    real = submit(procedure, applicant, valid_answers(procedure)).application
    procedure_set_status(
        organisation=organisation, procedure=procedure, status=ProcedureStatus.DRAFT
    )
    procedure.refresh_from_db()
    procedure_test_start(
        organisation=organisation, procedure=procedure, actor=admin_staff.user, now=now()
    )
    tester = resident_create("tester@example.jp", verified=True)
    invited_tester(procedure, tester.email, admin_staff.user)
    test = submit(procedure, tester, valid_answers(procedure)).application
    assert test.is_test
    return real, test


def test_no_webhook_is_queued_for_a_test_application(story, organisation, admin_staff):
    real, test = story
    application_move(
        organisation=organisation,
        application=test,
        staff=admin_staff,
        to_status="accepted",
        expected_status="submitted",
        now=now(),
    )
    queued = [d.payload["data"]["receipt_number"] for d in WebhookDelivery.objects.all()]
    assert queued == [real.receipt_number]


def test_an_export_leaves_test_applications_out(story, procedure, admin_staff):
    real, test = story
    prepared = applications_export(
        organisation=procedure.organisation,
        procedure=procedure,
        staff=admin_staff,
        options=ExportOptions(),
        now=now(),
    )
    data = b"".join(prepared.chunks).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert real.receipt_number in data
    assert test.receipt_number not in data
    assert len(rows) == 2  # the header and the one real application
    assert AuditEvent.objects.get(action="application.export").detail["rows"] == 1


def test_the_staff_api_neither_lists_nor_answers_a_test_application(story, client, admin_staff):
    real, test = story
    auth = {"Authorization": f"Bearer {staff_token(admin_staff)}"}
    listing = client.get("/api/v1/staff/applications/", headers=auth)
    assert listing.status_code == 200
    receipts = [row["receipt_number"] for row in listing.json()["results"]]
    assert receipts == [real.receipt_number]
    assert client.get(f"/api/v1/staff/applications/{test.pk}/", headers=auth).status_code == 404
    moved = client.post(
        f"/api/v1/staff/applications/{test.pk}/transitions",
        {"to": "accepted", "expected_status": "submitted"},
        content_type="application/json",
        headers=auth,
    )
    assert moved.status_code == 404
    test.refresh_from_db()
    assert test.status == "submitted"
    assert client.get(f"/api/v1/staff/applications/{real.pk}/", headers=auth).status_code == 200
