"""What makes a submission cheap stays correct: the cached procedure and the cached "has
webhook endpoints" flag follow every change at once, the idempotency key is looked up only on
a conflict yet stays exactly-once, and the number of statements of one submission is fixed
(a count, not a timing: ``make bench BENCH_ARGS=submissions`` measures the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from madoguchi.applications.models import Application
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.services import (
    ProcedureClosed,
    application_submit,
    new_idempotency_key,
)
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import published_procedure_get
from madoguchi.core.time import now
from madoguchi.forms.services import form_version_publish
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import guest_email_token_make
from madoguchi.integrations.models import WebhookDelivery
from madoguchi.integrations.webhooks import (
    EVENT_SUBMITTED,
    webhook_endpoint_create,
    webhook_endpoint_disable,
)
from madoguchi.testing import procedure_publish, staff_create, valid_answers

URL = "/api/v1/applications/"
GUEST = "guest@example.jp"

#: The statements of one guest submission to a procedure without a duplicate rule, once the
#: procedure is cached: the procedure's change token; the application, its first revision,
#: the audit event; the reviewers to notify; the receipt mail in the outbox; the applicant's
#: duplicate keys (both in one insert). No idempotency look-up, no procedure join, no
#: webhook read, no application read back, no health check (16 statements and a
#: ``SELECT 1`` before). Raise it only with a reason: each statement costs every submission.
STATEMENTS_PER_SUBMISSION = 7

#: On PostgreSQL every request also sets its row-level-security scope and clears it when the
#: response is closed (``madoguchi.core.tenancy``, the tenant-scope middleware): one
#: ``SELECT set_config(...)`` each, around the submission's own statements.
SCOPE_STATEMENTS = 2 if connection.vendor == "postgresql" else 0

#: A cold process (nothing cached) reads in addition: the procedure with its organisation and
#: form version, and whether the organisation has webhook endpoints.
COLD_EXTRA_STATEMENTS = 2


@pytest.fixture
def guest_procedure(organisation) -> Procedure:
    """粗大ごみの収集 (ial 1: no account needed), without a duplicate rule."""
    return procedure_publish(organisation, "sodai-gomi")


def apply(client: Client, procedure: Procedure, *, key: str | None = None, **extra: Any) -> Any:
    body = {
        "procedure": procedure.pk,
        "answers": valid_answers(procedure),
        "contact_email": GUEST,
        **extra,
    }
    return client.post(
        URL,
        data=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers={
            "Idempotency-Key": key or new_idempotency_key(),
            "X-Guest-Token": guest_email_token_make(email=GUEST, procedure_id=procedure.pk),
        },
    )


def statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements sent, less transaction control (BEGIN, COMMIT, savepoints)."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].lstrip().upper().startswith(control)
    ]


def _process_caches_cleared() -> None:
    """Forget what this process cached from earlier tests (the count must not depend on the
    order of tests): the published procedures, the form specs, the "has endpoints" flags."""
    from madoguchi.catalog import selectors as catalog_selectors
    from madoguchi.forms import selectors as form_selectors
    from madoguchi.integrations import webhooks

    catalog_selectors._PUBLISHED.clear()
    form_selectors._SPECS.clear()
    webhooks._HAS_ENDPOINTS.clear()


def test_one_submission_runs_a_fixed_number_of_statements(client, guest_procedure):
    valid_answers(guest_procedure)  # the test's own reads (the form version) happen here
    _process_caches_cleared()
    with CaptureQueriesContext(connection) as cold:
        assert apply(client, guest_procedure).status_code == 201  # fills the caches
    for _steady in range(2):
        with CaptureQueriesContext(connection) as captured:
            response = apply(client, guest_procedure)

        assert response.status_code == 201, response.content
        sent = statements(captured)
        scope = [s for s in sent if s.startswith("SELECT set_config(")]
        assert len(scope) == SCOPE_STATEMENTS, "\n".join(s[:120] for s in sent)
        assert len(sent) - len(scope) == STATEMENTS_PER_SUBMISSION, "\n".join(s[:120] for s in sent)
        assert not any("webhookendpoint" in s for s in sent)
    first = statements(cold)
    assert len(first) == SCOPE_STATEMENTS + STATEMENTS_PER_SUBMISSION + COLD_EXTRA_STATEMENTS, (
        "\n".join(s[:120] for s in first)
    )


def test_a_replay_is_answered_with_the_first_receipt_after_one_look_up(client, guest_procedure):
    key = new_idempotency_key()
    first = apply(client, guest_procedure, key=key)

    again = apply(client, guest_procedure, key=key)

    assert again.status_code == 200, again.content
    assert again.json()["receipt_number"] == first.json()["receipt_number"]
    assert Application.objects.count() == 1


def test_a_changed_setting_reaches_the_next_submission(client, guest_procedure):
    assert apply(client, guest_procedure).status_code == 201
    # Changed behind this process's cache, as another server process would: the row and its
    # updated_at, nothing in memory.
    Procedure.objects.filter(pk=guest_procedure.pk).update(processing_days=3, updated_at=now())

    response = apply(client, guest_procedure)

    assert response.status_code == 201, response.content
    application = Application.objects.get(receipt_number=response.json()["receipt_number"])
    assert application.due_at is not None
    assert application.due_at - application.arrived_at == timedelta(days=3)


def test_a_reception_period_that_ended_refuses_the_next_submission(client, guest_procedure):
    assert apply(client, guest_procedure).status_code == 201
    Procedure.objects.filter(pk=guest_procedure.pk).update(
        reception_ends_at=now() - timedelta(minutes=1), updated_at=now()
    )

    refused = apply(client, guest_procedure)

    assert refused.status_code == 403, refused.content
    assert Application.objects.count() == 1


def test_a_closed_procedure_is_refused_at_once(client, organisation, guest_procedure):
    assert apply(client, guest_procedure).status_code == 201

    procedure_set_status(
        organisation=organisation, procedure=guest_procedure, status=ProcedureStatus.CLOSED
    )

    assert apply(client, guest_procedure).status_code == 404
    with pytest.raises(Procedure.DoesNotExist):
        published_procedure_get(procedure_id=guest_procedure.pk)
    assert Application.objects.count() == 1


def test_a_new_form_version_is_used_by_the_next_submission(client, organisation, guest_procedure):
    assert apply(client, guest_procedure).status_code == 201
    old = guest_procedure.form_version
    newer = form_version_publish(
        organisation=organisation,
        schema={**old.schema, "title": f"{old.schema.get('title', '')}（改）"},
        now=now(),
    )
    guest_procedure.form_version = newer
    guest_procedure.save()

    stale = apply(client, guest_procedure, form_version=old.version)
    fresh = apply(client, guest_procedure, form_version=newer.version)

    assert stale.status_code == 410, stale.content
    assert fresh.status_code == 201, fresh.content
    stored = Application.objects.get(receipt_number=fresh.json()["receipt_number"])
    assert stored.form_version_id == newer.pk


def test_the_cached_procedure_cannot_be_changed_through_a_copy(guest_procedure):
    first = published_procedure_get(procedure_id=guest_procedure.pk)
    first.name = "書き換え"
    first.organisation.name = "書き換え"

    second = published_procedure_get(procedure_id=guest_procedure.pk)

    assert second.name == guest_procedure.name
    assert second.organisation.name == guest_procedure.organisation.name


@pytest.mark.parametrize("procedure_id", [0, -1, 10**12, True, "1", None])
def test_a_hostile_procedure_id_is_not_found(db, procedure_id):
    with pytest.raises(Procedure.DoesNotExist):
        published_procedure_get(procedure_id=procedure_id)


def test_an_added_endpoint_is_seen_by_the_next_submission(
    client, settings, organisation, guest_procedure
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    admin = staff_create(organisation, email="admin@yokohama.test", role=StaffRole.ADMIN)
    assert apply(client, guest_procedure).status_code == 201  # "no endpoints", cached
    assert not WebhookDelivery.objects.exists()

    endpoint, _secret = webhook_endpoint_create(
        organisation=organisation,
        url="http://127.0.0.1:9/hook",
        events=[EVENT_SUBMITTED],
        actor=admin.user,
        now=now(),
    )
    sent = apply(client, guest_procedure)

    assert sent.status_code == 201, sent.content
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["data"]["receipt_number"] == sent.json()["receipt_number"]
    assert delivery.payload["data"]["organisation"] == organisation.lg_code

    webhook_endpoint_disable(
        organisation=organisation, endpoint=endpoint, actor=admin.user, now=now()
    )
    assert apply(client, guest_procedure).status_code == 201
    assert WebhookDelivery.objects.count() == 1


def test_a_replay_after_the_reception_ended_still_gets_its_receipt(organisation, guest_procedure):
    """Insert first: the look-up also runs when a check refuses, so a retry of a stored
    submission is answered with its receipt even after the procedure stopped taking new ones."""
    answers = valid_answers(guest_procedure)
    key = new_idempotency_key()

    def send() -> Any:
        procedure = published_procedure_get(procedure_id=guest_procedure.pk)
        return application_submit(
            organisation=organisation,
            procedure=procedure,
            applicant=None,
            answers=answers,
            idempotency_key=key,
            now=now(),
            contact_email=GUEST,
        )

    first = send()
    Procedure.objects.filter(pk=guest_procedure.pk).update(
        reception_ends_at=now() - timedelta(minutes=1), updated_at=now()
    )
    again = send()

    assert again.application.pk == first.application.pk
    assert not again.created
    with pytest.raises(ProcedureClosed):
        application_submit(
            organisation=organisation,
            procedure=published_procedure_get(procedure_id=guest_procedure.pk),
            applicant=None,
            answers=answers,
            idempotency_key=new_idempotency_key(),
            now=now(),
            contact_email=GUEST,
        )
    assert Application.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_store_each_submission_exactly_once(organisation):
    """Three submissions, each sent three times at once: the unique constraint decides, the
    losers answer with the winner's receipt."""
    procedure = procedure_publish(organisation, "sodai-gomi")
    answers = valid_answers(procedure)
    keys = [new_idempotency_key() for _ in range(3)]
    results: list[Any] = []
    errors: list[Exception] = []
    start = threading.Barrier(9)

    def attempt(key: str) -> None:
        try:
            start.wait()
            results.append(
                (
                    key,
                    application_submit(
                        organisation=organisation,
                        procedure=published_procedure_get(procedure_id=procedure.pk),
                        applicant=None,
                        answers=answers,
                        idempotency_key=key,
                        now=now(),
                        contact_email=GUEST,
                    ),
                )
            )
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(key,)) for key in keys for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    for key in keys:
        mine = [result for k, result in results if k == key]
        assert len({r.application.pk for r in mine}) == 1
        assert sum(r.created for r in mine) == 1
    assert Application.objects.count() == 3


def test_the_one_insert_baseline_is_off_unless_asked_for_and_stores_one_row(db, client, settings):
    from madoguchi.audit.models import AuditEvent

    settings.BENCH_ENDPOINTS = False
    assert client.post("/api/v1/bench/one-insert/").status_code == 404
    assert not AuditEvent.objects.filter(target_type="bench").exists()

    settings.BENCH_ENDPOINTS = True
    response = client.post("/api/v1/bench/one-insert/")

    assert response.status_code == 201, response.content
    assert AuditEvent.objects.filter(target_type="bench").count() == 1
    assert not Application.objects.exists()


OTHER_PROCESS = """
import sys, django
django.setup()
from madoguchi.catalog.selectors import published_procedure_get
for line in sys.stdin:
    try:
        print(published_procedure_get(procedure_id=int(line)).processing_days, flush=True)
    except Exception as error:
        print(type(error).__name__, flush=True)
"""


def _database_url() -> str:
    """The test database, as another process of the installation would name it."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    auth = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return f"postgres://{auth}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{config['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_by_one_process_reaches_the_cache_of_another_at_once(organisation):
    """Two processes: the other one has the procedure cached; this one changes a setting,
    then closes the procedure; the other sees each at its very next look-up."""
    procedure = procedure_publish(organisation, "sodai-gomi", processing_days=5)
    env = {**os.environ, "MADOGUCHI_DATABASE_URL": _database_url()}
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def ask() -> str:
        assert other.stdin is not None
        assert other.stdout is not None
        other.stdin.write(f"{procedure.pk}\n")
        other.stdin.flush()
        return other.stdout.readline().strip()

    try:
        assert ask() == "5"
        assert ask() == "5"  # from its cache now
        procedure.processing_days = 9
        procedure.save()
        assert ask() == "9"
        procedure_set_status(
            organisation=organisation, procedure=procedure, status=ProcedureStatus.CLOSED
        )
        assert ask() == "DoesNotExist"
    finally:
        other.communicate(timeout=60)
