"""The workflow after arrival: transitions, corrections with revisions, withdrawal."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    ApplicationRevision,
    ApplicationTransition,
    IssuedDocument,
)
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.review import application_move
from madoguchi.applications.review import application_withdraw as application_withdraw_service
from madoguchi.applications.selectors import open_correction
from madoguchi.applications.services import ValidationFailed
from madoguchi.applications.workflow import (
    StaleStatus,
    TransitionRefused,
    allowed_targets,
    application_transition,
    application_withdraw,
    correction_answer,
    correction_request,
    message_send,
    messages_mark_read,
)
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.documents.testing import document_record_make
from madoguchi.identity.models import User
from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation
from madoguchi.testing import at_level_one, submit, valid_answers


@pytest.fixture
def application(procedure, resident):
    return submit(procedure, resident, valid_answers(procedure)).application


@pytest.fixture
def clerk(db):
    return User.objects.create_user("clerk@city.example.jp", "clerk password 12345")


def move(application, to, clerk, **kwargs):
    return application_transition(
        organisation=application.organisation,
        application=application,
        to_status=to,
        staff_user=clerk,
        now=now(),
        **kwargs,
    )


def test_staff_moves_are_recorded_with_actor_time_and_reason(application, clerk):
    move(application, S.ACCEPTED, clerk)
    move(application, S.IN_REVIEW, clerk)
    move(application, S.APPROVED, clerk, reason="要件を満たしています。")

    application.refresh_from_db()
    assert application.status == S.APPROVED
    history = list(application.transitions.order_by("id").values_list("from_status", "to_status"))
    assert history == [
        (S.SUBMITTED, S.ACCEPTED),
        (S.ACCEPTED, S.IN_REVIEW),
        (S.IN_REVIEW, S.APPROVED),
    ]
    last = application.transitions.order_by("-id").first()
    assert last.actor == clerk
    assert last.reason == "要件を満たしています。"
    assert AuditEvent.objects.filter(action="application.transition").count() == 3


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], S.APPROVED),  # not accepted yet
        ([], S.RESUBMITTED),  # only the applicant resubmits
        ([], S.WITHDRAWN),  # only the applicant withdraws
        ([S.ACCEPTED, S.APPROVED], S.REJECTED),  # decided is final
        ([S.REJECTED], S.APPROVED),
    ],
)
def test_moves_outside_the_table_are_refused_and_change_nothing(application, clerk, path, target):
    for status in path:
        move(application, status, clerk)
    before = ApplicationTransition.objects.count()
    with pytest.raises(TransitionRefused) as refused:
        move(application, target, clerk)
    assert "できません" in str(refused.value)
    assert ApplicationTransition.objects.count() == before


def test_an_unknown_target_status_is_refused(application, clerk):
    with pytest.raises(TransitionRefused):
        move(application, "approved'; drop table x;--", clerk)


def test_another_organisations_staff_cannot_move_it(application, clerk, other_organisation):
    with pytest.raises(Application.DoesNotExist):
        application_transition(
            organisation=other_organisation,
            application=application,
            to_status=S.ACCEPTED,
            staff_user=clerk,
            now=now(),
        )
    application.refresh_from_db()
    assert application.status == S.SUBMITTED


def test_a_decision_against_a_status_that_changed_meanwhile_is_refused(application, clerk):
    move(application, S.ACCEPTED, clerk)
    with pytest.raises(StaleStatus) as stale:
        move(application, S.REJECTED, clerk, expected_status=S.SUBMITTED)
    assert "受付" in str(stale.value)


@pytest.mark.django_db(transaction=True)
def test_two_staff_deciding_at_once_make_one_decision(procedure, resident, clerk):
    application = submit(procedure, resident, valid_answers(procedure)).application
    move(application, S.ACCEPTED, clerk)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def decide(target: str) -> None:
        try:
            barrier.wait()
            move(
                Application.objects.get(pk=application.pk),
                target,
                clerk,
                expected_status=S.ACCEPTED,
            )
            outcomes.append("ok")
        except TransitionRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(t,)) for t in (S.APPROVED, S.REJECTED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert ApplicationTransition.objects.filter(application=application).count() == 2


def test_allowed_targets_follow_the_table():
    assert set(allowed_targets(S.SUBMITTED, "staff")) == {
        S.ACCEPTED,
        S.CORRECTION_REQUESTED,
        S.REJECTED,
    }
    assert allowed_targets(S.CORRECTION_REQUESTED, "applicant") == [S.RESUBMITTED, S.WITHDRAWN]
    assert allowed_targets(S.APPROVED, "staff") == []


def request_correction(application, clerk, fields, body="電話番号を確認してください。"):
    return correction_request(
        organisation=application.organisation,
        application=application,
        staff_user=clerk,
        body=body,
        fields=fields,
        now=now(),
    )


def test_a_correction_creates_a_new_revision_and_keeps_the_old_one(application, clerk, resident):
    OutboxMessage.objects.all().delete()
    request_correction(application, clerk, ["requester_phone"])
    application.refresh_from_db()
    assert application.status == S.CORRECTION_REQUESTED
    assert open_correction(application).fields == ["requester_phone"]  # type: ignore[union-attr]
    mail = OutboxMessage.objects.get()
    assert "補正" in mail.payload["subject"]
    assert "電話番号を確認" not in mail.payload["body"]  # content stays on my page
    old_digest = application.answers_digest

    correction_answer(
        applicant=resident,
        application=application,
        changes={"requester_phone": "090-1234-5678"},
        note="番号を直しました。",
        now=now(),
    )

    application.refresh_from_db()
    assert application.status == S.RESUBMITTED
    assert application.revision == 2
    assert application.answers["requester_phone"] == "09012345678"
    assert application.answers_digest != old_digest
    revisions = ApplicationRevision.objects.filter(application=application).order_by("revision")
    assert [r.revision for r in revisions] == [1, 2]
    assert revisions[0].answers_digest == old_digest
    assert revisions[0].answers["requester_phone"] != "09012345678"
    assert ApplicationMessage.objects.filter(application=application, kind="reply").exists()


def test_a_correction_cannot_change_fields_that_were_not_indicated(application, clerk, resident):
    request_correction(application, clerk, ["requester_phone"])
    before = Application.objects.get(pk=application.pk)
    with pytest.raises(TransitionRefused):
        correction_answer(
            applicant=resident,
            application=application,
            changes={"requester_phone": "090-1234-5678", "certificate_type": "removed"},
            now=now(),
        )
    after = Application.objects.get(pk=application.pk)
    assert (after.answers, after.revision, after.status) == (
        before.answers,
        before.revision,
        before.status,
    )


def test_an_invalid_correction_is_refused_with_keyed_errors(application, clerk, resident):
    request_correction(application, clerk, ["requester_phone"])
    with pytest.raises(ValidationFailed) as failure:
        correction_answer(
            applicant=resident,
            application=application,
            changes={"requester_phone": "<script>alert(1)</script>"},
            now=now(),
        )
    assert "requester_phone" in failure.value.errors
    application.refresh_from_db()
    assert application.revision == 1
    assert application.status == S.CORRECTION_REQUESTED


def test_my_number_survives_a_correction_of_other_fields(procedure, resident, clerk):
    from madoguchi.core.crypto import decrypt

    organisation = Organisation.objects.get(lg_code="141003")
    saikofu = at_level_one(
        procedure_set_status(
            organisation=organisation,
            procedure=procedure_adopt(
                organisation=organisation,
                template_version=template_version_get(slug="kaigo-hihokensha-saikofu"),
                now=now(),
            ),
            status=ProcedureStatus.PUBLISHED,
        )
    )
    answers = {
        k: v
        for k, v in valid_answers(saikofu).items()
        if not (isinstance(v, list) and v and isinstance(v[0], dict) and "kind" in v[0])
    }
    application = submit(saikofu, resident, answers).application
    original = decrypt(application.answers["insured_my_number"]["$enc"])
    request_correction(application, clerk, ["insured_phone"])
    correction_answer(
        applicant=resident,
        application=application,
        changes={"insured_phone": "090-1234-5678"},
        now=now(),
    )
    application.refresh_from_db()
    assert decrypt(application.answers["insured_my_number"]["$enc"]) == original
    assert application.answers["insured_my_number"]["masked"].startswith("●")


def test_only_the_applicant_answers_a_correction(application, clerk):
    request_correction(application, clerk, ["requester_phone"])
    stranger = User.objects.create_user("stranger@example.jp", "stranger pass 12345")
    with pytest.raises(Application.DoesNotExist):
        correction_answer(
            applicant=stranger,
            application=application,
            changes={"requester_phone": "090-1234-5678"},
            now=now(),
        )


def test_a_correction_request_needs_known_fields_and_a_message(application, clerk):
    with pytest.raises(TransitionRefused):
        request_correction(application, clerk, ["no_such_field"])
    with pytest.raises(TransitionRefused):
        request_correction(application, clerk, [])
    with pytest.raises(TransitionRefused):
        request_correction(application, clerk, ["requester_phone"], body="   ")
    with pytest.raises(TransitionRefused):
        request_correction(application, clerk, ["requester_phone"], body="あ" * 4001)
    application.refresh_from_db()
    assert application.status == S.SUBMITTED


def test_answering_when_no_correction_was_asked_is_refused(application, resident):
    with pytest.raises(TransitionRefused):
        correction_answer(
            applicant=resident,
            application=application,
            changes={"requester_phone": "090-1234-5678"},
            now=now(),
        )


def test_the_applicant_withdraws_while_it_is_handled(application, resident, clerk):
    move(application, S.ACCEPTED, clerk)
    application_withdraw(
        applicant=resident, application=application, reason="別の方法で取得しました。", now=now()
    )
    application.refresh_from_db()
    assert application.status == S.WITHDRAWN
    last = application.transitions.order_by("-id").first()
    assert (last.to_status, last.actor_label, last.reason) == (
        S.WITHDRAWN,
        "申請者",
        "別の方法で取得しました。",
    )
    with pytest.raises(TransitionRefused):
        application_withdraw(applicant=resident, application=application, now=now())
    with pytest.raises(TransitionRefused):
        move(application, S.APPROVED, clerk)


def test_a_decided_application_cannot_be_withdrawn(application, resident, clerk):
    move(application, S.REJECTED, clerk, reason="対象外です。")
    with pytest.raises(TransitionRefused):
        application_withdraw(applicant=resident, application=application, now=now())


def test_a_procedure_may_forbid_withdrawal_online(application, resident):
    procedure = application.procedure
    procedure.settings = {**procedure.settings, "allow_withdrawal": False}
    procedure.save(update_fields=["settings"])
    application.refresh_from_db()
    with pytest.raises(TransitionRefused) as refused:
        application_withdraw(applicant=resident, application=application, now=now())
    assert "窓口" in str(refused.value)


def test_messages_from_staff_are_announced_and_marked_read(application, clerk, resident):
    OutboxMessage.objects.all().delete()
    message_send(
        organisation=application.organisation,
        application=application,
        staff_user=clerk,
        body="書類を確認しています。",
        now=now(),
    )
    assert OutboxMessage.objects.count() == 1
    assert messages_mark_read(applicant=resident, application=application, now=now()) == 1
    assert messages_mark_read(applicant=resident, application=application, now=now()) == 0
    with pytest.raises(TransitionRefused):
        message_send(
            organisation=application.organisation,
            application=application,
            staff_user=clerk,
            body="\x00 ",
            now=now(),
        )


def test_a_correction_of_my_number_asks_for_it_again_and_never_shows_the_sealed_value(
    procedure, resident, clerk, client
):
    from madoguchi.forms.sealed import Sealed

    organisation = Organisation.objects.get(lg_code="141003")
    saikofu = at_level_one(
        procedure_set_status(
            organisation=organisation,
            procedure=procedure_adopt(
                organisation=organisation,
                template_version=template_version_get(slug="kaigo-hihokensha-saikofu"),
                now=now(),
            ),
            status=ProcedureStatus.PUBLISHED,
        )
    )
    answers = {
        k: v
        for k, v in valid_answers(saikofu).items()
        if not (isinstance(v, list) and v and isinstance(v[0], dict) and "kind" in v[0])
    }
    application = submit(saikofu, resident, answers).application
    sealed = Sealed.from_stored(application.answers["insured_my_number"])
    assert sealed is not None
    request_correction(application, clerk, ["insured_my_number"])
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    client.force_login(resident)
    url = f"/mypage/{application.receipt_number}/correct/"

    page = client.get(url).content.decode()

    assert 'name="insured_my_number"' in page
    assert sealed.token not in page
    assert sealed.masked not in page
    assert answers["insured_my_number"] not in page
    with pytest.raises(ValidationFailed) as failed:  # not kept: it must be typed again
        correction_answer(applicant=resident, application=application, changes={}, now=now())
    assert "insured_my_number" in failed.value.errors
    assert client.post(url, {"insured_my_number": answers["insured_my_number"]}).status_code == 302
    application.refresh_from_db()
    again = Sealed.from_stored(application.answers["insured_my_number"])
    assert again is not None
    assert again.reveal() == answers["insured_my_number"]
    assert application.status == S.RESUBMITTED


# --- Enums held by the database ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (IssuedDocument, {"kind": "decision_maybe"}),
        (ApplicationMessage, {"kind": "gossip"}),
        (ApplicationTransition, {"from_status": "submitted", "to_status": "lost"}),
    ],
)
def test_unknown_kinds_and_statuses_are_refused_by_the_database(application, model, values):
    rows: dict[type, dict[str, Any]] = {
        IssuedDocument: {
            "title": "t",
            "record": document_record_make(organisation=application.organisation, now=now()),
        },
        ApplicationMessage: {"from_staff": True, "body": "b"},
        ApplicationTransition: {"actor_label": "職員"},
    }
    row = rows[model]

    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(
            organisation_id=application.organisation_id,
            application=application,
            created_at=now(),
            **row,
            **values,
        )


# --- Public services own their transaction -----------------------------------------------------


def test_a_public_service_cannot_become_a_step_of_another_transaction(
    application, resident, staff_member
):
    """durable=True: a caller that wraps a service in its own transaction is refused, so a
    service's guarantees (one commit, its outbox rows with it) cannot silently change."""
    services = [
        lambda: application_move(
            organisation=application.organisation,
            application=application,
            staff=staff_member,
            to_status=S.ACCEPTED,
            expected_status=S.SUBMITTED,
            now=now(),
        ),
        lambda: application_withdraw_service(
            applicant=resident, application=application, now=now()
        ),
    ]
    for call in services:
        with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
            call()

    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED
    # Called as they are meant to be, they work.
    for call in services:
        call()
    assert Application.objects.get(pk=application.pk).status == S.WITHDRAWN


def test_my_page_history_names_each_status_in_japanese(application, resident, clerk, client):
    """Found in the browser: the my page's 経過 listed `correction_requested`, `accepted`."""
    request_correction(application, clerk, ["requester_phone"])
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    client.force_login(resident)

    page = client.get(f"/mypage/{application.receipt_number}/").content.decode()

    history = page[page.index("経過") :]
    assert "補正" in history
    assert "correction_requested" not in history
