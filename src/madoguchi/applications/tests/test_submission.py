"""A resident's application is stored exactly once, with everything its arrival implies."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection

from madoguchi.applications.documents import application_receipt_pdf
from madoguchi.applications.models import Application, ApplicationRevision, Draft
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.services import (
    IdempotencyConflict,
    InvalidIdempotencyKey,
    ProcedureClosed,
    StaleFormVersion,
    ValidationFailed,
    application_submit,
    draft_save,
    new_idempotency_key,
)
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.crypto import decrypt
from madoguchi.core.time import now
from madoguchi.identity.models import User
from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation
from madoguchi.testing import at_level_one, counted, submit, valid_answers, with_real_files


def test_submission_stores_the_application_with_its_arrival_and_side_effects(procedure, resident):
    answers = valid_answers(procedure)
    draft_save(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        step="",
        now=now(),
    )

    result = submit(procedure, resident, answers)

    application = result.application
    assert result.created
    assert application.receipt_number.startswith("141003-")
    assert application.arrived_at is not None
    assert ApplicationRevision.objects.filter(application=application, revision=1).exists()
    assert (
        AuditEvent.objects.filter(
            action="application.submitted", target_id=str(application.pk)
        ).count()
        == 1
    )
    assert counted(procedure=procedure, channel="online") == 1
    mail = OutboxMessage.objects.get(topic="email")
    assert mail.payload["to"] == "hanako@example.jp"
    assert application.receipt_number in mail.payload["subject"]
    assert not Draft.objects.filter(applicant=resident).exists()


def test_a_retry_with_the_same_key_returns_the_same_receipt(procedure, resident):
    answers = valid_answers(procedure)
    key = new_idempotency_key()
    first = submit(procedure, resident, answers, key)
    second = submit(procedure, resident, answers, key)

    assert second.application.pk == first.application.pk
    assert not second.created
    assert Application.objects.count() == 1
    assert counted(procedure=procedure) == 1
    assert OutboxMessage.objects.count() == 1


def test_the_same_key_with_other_answers_is_refused(procedure, resident):
    answers = valid_answers(procedure)
    key = new_idempotency_key()
    submit(procedure, resident, answers, key)
    changed = dict(answers)
    changed["copies"] = 3 if answers.get("copies") != 3 else 2
    with pytest.raises(IdempotencyConflict):
        submit(procedure, resident, changed, key)
    assert Application.objects.count() == 1


@pytest.mark.parametrize(
    "key", ["", "short", "x" * 65, "bad key with spaces!!", "../../etc/passwd", None, 12345]
)
def test_a_forged_key_is_refused_and_nothing_is_stored(procedure, resident, key):
    with pytest.raises(InvalidIdempotencyKey):
        submit(
            procedure, resident, valid_answers(procedure), key=key if key is not None else None
        ) if key else (
            application_submit(
                organisation=procedure.organisation,
                procedure=procedure,
                applicant=resident,
                answers={},
                idempotency_key=key,
                now=now(),
            )
        )
    assert Application.objects.count() == 0


def test_invalid_answers_store_nothing(procedure, resident):
    with pytest.raises(ValidationFailed) as caught:
        submit(procedure, resident, {"copies": "たくさん"})
    assert caught.value.errors
    assert Application.objects.count() == 0
    assert counted() == 0
    assert OutboxMessage.objects.count() == 0


def test_a_closed_or_draft_procedure_does_not_accept(procedure, resident):
    procedure_set_status(
        organisation=procedure.organisation, procedure=procedure, status=ProcedureStatus.CLOSED
    )
    with pytest.raises(ProcedureClosed):
        submit(procedure, resident, valid_answers(procedure))
    procedure_set_status(
        organisation=procedure.organisation, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )
    procedure.reception_ends_at = now() - timedelta(days=1)
    procedure.save()
    with pytest.raises(ProcedureClosed):
        submit(procedure, resident, valid_answers(procedure))
    assert Application.objects.count() == 0


def test_a_stale_form_version_is_refused(procedure, resident):
    with pytest.raises(StaleFormVersion):
        submit(
            procedure,
            resident,
            valid_answers(procedure),
            form_version_id=procedure.form_version_id + 1000,
        )


def test_my_number_is_encrypted_at_rest_and_masked_on_the_receipt(db, resident):
    organisation = Organisation.objects.get(lg_code="141003")
    item = procedure_adopt(
        organisation=organisation,
        template_version=template_version_get(slug="jidou-teate-nintei"),
        now=now(),
    )
    at_level_one(
        procedure_set_status(
            organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
        )
    )
    answers = with_real_files(item, valid_answers(item), owner=resident)
    my_number = answers["claimant_my_number"]

    application = submit(item, resident, answers).application

    stored = application.answers["claimant_my_number"]
    assert my_number not in str(application.answers)
    assert decrypt(stored["$enc"]) == my_number
    assert stored["masked"].endswith(my_number[-4:])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT answers FROM applications_application WHERE id = %s", [application.pk]
        )
        assert my_number not in str(cursor.fetchone()[0])
    pdf = application_receipt_pdf(application, now=now())
    assert pdf.startswith(b"%PDF")
    assert my_number.encode() not in pdf


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submission_creates_one_application(procedure, resident):
    answers = valid_answers(procedure)
    key = new_idempotency_key()
    results, errors = [], []

    def attempt():
        try:
            results.append(submit(procedure, resident, answers, key))
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert len({r.application.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Application.objects.count() == 1
    assert counted(procedure=procedure) == 1


def test_a_draft_never_keeps_my_number(db, resident):
    organisation = Organisation.objects.get(lg_code="141003")
    item = procedure_adopt(
        organisation=organisation,
        template_version=template_version_get(slug="jidou-teate-nintei"),
        now=now(),
    )
    answers = valid_answers(item)
    answers["children"][0]["my_number"] = answers["claimant_my_number"]

    draft = draft_save(
        organisation=organisation,
        procedure=item,
        applicant=resident,
        answers=answers,
        step="claimant",
        now=now(),
    )

    draft.refresh_from_db()
    assert "claimant_my_number" not in draft.answers
    assert "my_number" not in draft.answers["children"][0]
    assert draft.answers["claimant_name"] == answers["claimant_name"]
    assert draft.expires_at > now()


def _file_procedure():
    organisation = Organisation.objects.get(lg_code="141003")
    item = procedure_adopt(
        organisation=organisation,
        template_version=template_version_get(slug="jidou-teate-nintei"),
        now=now(),
    )
    return at_level_one(
        procedure_set_status(
            organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
        )
    )


def test_files_are_claimed_once_and_described_as_stored(db, resident):
    from madoguchi.applications.models import Attachment

    item = _file_procedure()
    answers = with_real_files(item, valid_answers(item), owner=resident)
    slots = [k for k, v in answers.items() if isinstance(v, list) and v and "kind" in v[0]]
    assert slots
    # What the client says about the file does not count: the stored facts do.
    answers[slots[0]][0]["name"] = "偽名.pdf"
    application = submit(item, resident, answers).application
    assert application.answers[slots[0]][0]["name"] == "書類.png"
    assert Attachment.objects.filter(application=application).count() == len(slots)
    # The same file cannot be sent again with another application.
    with pytest.raises(ValidationFailed) as again:
        submit(item, resident, answers)
    assert "ファイルが見つかりません" in str(again.value.errors)


def test_another_persons_file_cannot_be_attached(db, resident):
    item = _file_procedure()
    stranger = User.objects.create_user("stranger@example.jp", "stranger pass 12345")
    answers = with_real_files(item, valid_answers(item), owner=stranger)
    with pytest.raises(ValidationFailed):
        submit(item, resident, answers)
    assert not Application.objects.exists()


def test_made_up_file_ids_are_refused(db, resident):
    item = _file_procedure()
    answers = with_real_files(item, valid_answers(item), owner=resident)
    slot = next(k for k, v in answers.items() if isinstance(v, list) and v and "kind" in v[0])
    for forged in ("../../etc/passwd", "0" * 32, "'; drop table x;--", ""):
        answers[slot] = [{"id": forged, "name": "x.pdf", "kind": "pdf", "size": 10}]
        with pytest.raises(ValidationFailed):
            submit(item, resident, answers)
    assert not Application.objects.exists()


def test_drafts_warn_once_before_expiry_and_are_then_deleted(procedure, resident):
    from madoguchi.applications.services import drafts_expire

    saved_at = now()
    draft = draft_save(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers={"requester_phone": "045-000-0000"},
        step="",
        now=saved_at,
    )
    assert drafts_expire(now=saved_at + timedelta(days=10)).notified == 0
    later = draft.expires_at - timedelta(days=2)
    report = drafts_expire(now=later)
    assert (report.notified, report.deleted) == (1, 0)
    [mail] = [m for m in OutboxMessage.objects.all() if "下書き" in m.payload["subject"]]
    assert mail.payload["to"] == "hanako@example.jp"
    assert "045" not in mail.payload["body"]
    assert "/mypage/" in mail.payload["body"]  # every mail has its link
    assert drafts_expire(now=later).notified == 0  # once only
    gone = drafts_expire(now=draft.expires_at + timedelta(seconds=1))
    assert gone.deleted == 1
    assert not Draft.objects.exists()


def test_bank_accounts_are_encrypted_at_rest_and_shown_masked(db, resident):
    from madoguchi.applications.selectors import application_rows
    from madoguchi.forms.sealed import reveal
    from madoguchi.forms.selectors import form_spec

    item = _file_procedure()
    answers = with_real_files(item, valid_answers(item), owner=resident)
    spec = form_spec(item.form_version)
    key = next(f.key for f in spec.fields if f.type == "bank_account" and f.key in answers)
    number = answers[key]["account_number"]

    application = submit(item, resident, answers).application

    stored = application.answers[key]
    assert set(stored) >= {"$enc", "masked", "parts"}
    assert number not in json.dumps(stored, ensure_ascii=False)
    assert stored["parts"]["account_number"].endswith(number[-3:])
    assert reveal(stored)["account_number"] == number
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT answers FROM applications_application WHERE id = %s", [application.pk]
        )
        assert f'"{number}"' not in str(cursor.fetchone()[0])
    shown = " ".join(text for _s, _l, text in application_rows(application))
    assert "●●●●" in shown
