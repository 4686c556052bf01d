"""The baselines of ``bench/submissions.py``: the rows of one arrival, nothing else; and one
durable INSERT, the least a request that stores something can cost.

For the benchmark only (``madoguchi.api.bench``, off unless ``MADOGUCHI_BENCH_ENDPOINTS``): it
stores what it is given, unvalidated. It calls the very insert of ``application_submit``, so
the benchmark's ratio is the price of everything around it (HTTP, authentication, validation,
encryption of My Number, the idempotency look-up), never of a copy that has drifted.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.db import transaction

from madoguchi.applications.models import Application
from madoguchi.applications.services import _insert
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure


def application_insert_only(
    *,
    procedure_id: int,
    answers: dict[str, Any],
    contact_email: str,
    idempotency_key: str,
    now: datetime,
) -> Application:
    """Store a guest's application to ``procedure_id`` as ``application_submit`` would after
    its checks, in one durable transaction. Nothing is validated (the benchmark sends valid
    answers). Raises ``Procedure.DoesNotExist`` for an unknown procedure."""
    procedure = Procedure.objects.select_related("organisation", "form_version").get(
        pk=procedure_id
    )
    with transaction.atomic(durable=True):
        return _insert(
            procedure.organisation,
            procedure,
            applicant=None,
            email=contact_email,
            scope=f"bench:{contact_email}",
            key=idempotency_key or secrets.token_hex(16),
            stored=answers,
            digest=secrets.token_hex(32),
            now=now,
            search_name="",
        )


def bench_one_insert(*, now: datetime) -> int:
    """One audit row in one durable transaction (target ``bench``, never counted as an
    application): the one-INSERT baseline. Returns its id."""
    with transaction.atomic(durable=True):
        return audit_record(
            action="application.submitted", now=now, target_type="bench", actor_label="bench"
        ).pk
