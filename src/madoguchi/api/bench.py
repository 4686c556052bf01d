"""The baseline of ``bench/submissions.py``: the database writes of one submission, nothing else.

Off unless ``MADOGUCHI_BENCH_ENDPOINTS`` is on (it answers 404 like any unknown URL), never in
the OpenAPI document, and refused in production by the settings check: it stores whatever it
is sent, unvalidated, with no authentication.

It performs the same inserts in one transaction as ``application_submit`` does for a guest
(application, first revision, audit event, channel count through ``application_arrived``,
e-mail in the outbox), with the same durability, so that the benchmark's ratio is the price
of everything around them: HTTP parsing, authentication, validation, encryption of My Number,
the idempotency look-up.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError

from madoguchi.applications.events import application_arrived
from madoguchi.applications.models import Application, ApplicationRevision
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now, to_tokyo
from madoguchi.notifications.services import outbox_enqueue_email

router = Router(tags=["ベンチマーク"])


@router.post("/bench/insert-only/", response={201: dict[str, str]}, include_in_schema=False)
def insert_only(request: HttpRequest) -> Status[dict[str, Any]]:
    if not settings.BENCH_ENDPOINTS:
        raise HttpError(404, "見つかりません。")
    body = json.loads(request.body)
    at = now()
    procedure = Procedure.objects.select_related("organisation").get(pk=body["procedure"])
    organisation = procedure.organisation
    answers = body["answers"]
    digest = secrets.token_hex(32)
    email = str(body.get("contact_email") or "bench@example.jp")
    with transaction.atomic():
        application = Application.objects.create(
            organisation=organisation,
            procedure=procedure,
            form_version_id=procedure.form_version_id,
            applicant=None,
            contact_email=email,
            receipt_number=f"{organisation.lg_code}-{to_tokyo(at):%y%m%d}-B{secrets.token_hex(6)}",
            idempotency_scope=f"bench:{email}",
            idempotency_key=request.headers.get("Idempotency-Key", "")[:64]
            or secrets.token_hex(16),
            arrived_at=at,
            answers=answers,
            answers_digest=digest,
        )
        ApplicationRevision.objects.create(
            application=application,
            revision=1,
            answers=answers,
            answers_digest=digest,
            created_at=at,
        )
        audit_record(
            action="bench.insert_only",
            now=at,
            organisation=organisation,
            actor_label="ベンチマーク",
            target_type="application",
            target_id=application.pk,
            detail={"procedure": procedure.pk},
        )
        application_arrived.send(
            sender=Application,
            organisation_id=organisation.pk,
            procedure_id=procedure.pk,
            application_id=application.pk,
            arrived_at=at,
            channel="online",
        )
        outbox_enqueue_email(
            to=email,
            subject=f"【{organisation.name}】申請を受け付けました（受付番号 {application.receipt_number}）",
            body="ベンチマーク",
            now=at,
            organisation=organisation,
        )
    return Status(201, {"receipt_number": application.receipt_number})
