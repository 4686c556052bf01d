"""The baseline of ``bench/submissions.py``: the database writes of one submission, nothing else.

Off unless ``MADOGUCHI_BENCH_ENDPOINTS`` is on (it answers 404 like any unknown URL), never in
the OpenAPI document, and refused in production by the settings check: it stores whatever it
is sent, unvalidated, with no authentication.

It calls the insert of ``application_submit`` itself (``applications.bench``): the same rows
(application, first revision, audit event, the ``application_arrived`` event,
e-mail in the outbox) in one transaction with the same durability, so that the benchmark's
ratio is the price of everything around them: HTTP parsing, authentication, validation,
encryption of My Number, the idempotency look-up.

``/bench/one-insert/`` is the floor: one durable INSERT of one small row per request.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError

from madoguchi.applications.bench import application_insert_only, bench_one_insert
from madoguchi.core.time import now

router = Router(tags=["ベンチマーク"])


@router.post("/bench/insert-only/", response={201: dict[str, str]}, include_in_schema=False)
def insert_only(request: HttpRequest) -> Status[dict[str, Any]]:
    if not settings.BENCH_ENDPOINTS:
        raise HttpError(404, "見つかりません。")
    body = json.loads(request.body)
    application = application_insert_only(
        procedure_id=int(body["procedure"]),
        answers=body["answers"],
        contact_email=str(body.get("contact_email") or "bench@example.jp"),
        idempotency_key=request.headers.get("Idempotency-Key", "")[:64],
        now=now(),
    )
    return Status(201, {"receipt_number": application.receipt_number})


@router.post("/bench/one-insert/", response={201: dict[str, str]}, include_in_schema=False)
def one_insert(request: HttpRequest) -> Status[dict[str, Any]]:
    if not settings.BENCH_ENDPOINTS:
        raise HttpError(404, "見つかりません。")
    return Status(201, {"receipt_number": f"bench-{bench_one_insert(now=now())}"})
