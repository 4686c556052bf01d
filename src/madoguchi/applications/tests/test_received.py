"""Applications received at the counter or by post are on record like online ones, and a
resident's draft can be finished at the counter (書かない窓口)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from madoguchi.applications.constants import Channel
from madoguchi.applications.inbox import inbox_filters_parse, inbox_page
from madoguchi.applications.models import (
    Application,
    ApplicationNote,
    ApplicationRevision,
    CounterHandoff,
    Draft,
)
from madoguchi.applications.received import (
    HandoffNotFound,
    HandoffRefused,
    RegistrationNotAllowed,
    application_register_received,
    counter_handoff_issue,
    counter_handoff_open,
    received_facts,
    received_form_spec,
)
from madoguchi.applications.services import (
    IdempotencyConflict,
    ValidationFailed,
    draft_save,
    new_idempotency_key,
)
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import TOKYO, now, to_tokyo
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import VerifiedIdentity
from madoguchi.identity.constants import StaffRole
from madoguchi.integrations.exports import ExportOptions, applications_export
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import counted, staff_create, submit, valid_answers

NAME = {"family": "窓口", "given": "花子", "family_kana": "マドグチ", "given_kana": "ハナコ"}


def full_answers(procedure: Procedure) -> dict[str, Any]:
    """Valid answers of the whole form as staff fill it in (no attachment fields)."""
    keys = {f.key for f in received_form_spec(form_spec(procedure.form_version), "full").fields}
    answers = {k: v for k, v in valid_answers(procedure).items() if k in keys}
    answers["requester_name"] = dict(NAME)
    return answers


def short_answers() -> dict[str, Any]:
    return {
        "requester_name": dict(NAME),
        "requester_birth_date": "1980-04-01",
        "requester_address": {
            "postal_code": "231-0017",
            "prefecture": "神奈川県",
            "city": "横浜市中区",
            "town": "港町",
            "block": "1-1",
            "building": "",
        },
    }


def register(procedure: Procedure, staff: Any, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "organisation": procedure.organisation,
        "staff": staff,
        "procedure": procedure,
        "channel": Channel.COUNTER,
        "received_date": to_tokyo(now()).date(),
        "form": "full",
        "answers": full_answers(procedure),
        "documents": ["drivers_license"],
        "idempotency_key": new_idempotency_key(),
        "now": now(),
    }
    args.update(overrides)
    return application_register_received(**args)


def test_a_counter_application_is_stored_with_its_channel_identity_check_and_arrival(
    procedure, staff_member
):
    result = register(procedure, staff_member, summary="住民票の写し2通、窓口で交付希望")

    application = result.application
    assert result.created
    assert application.channel == "counter"
    assert application.receipt_number.startswith("141003-")
    assert application.applicant_id is None
    assert (application.ial, application.aal) == (2, 1)
    identity = VerifiedIdentity.from_json(application.identity)
    assert identity is not None
    assert identity.methods == ("staff_counter", "counter_proofing")
    assert identity.extra["documents"] == "drivers_license"
    assert identity.extra["staff_id"] == str(staff_member.user_id)
    assert application.search_name  # found by name in the inbox
    assert ApplicationRevision.objects.filter(application=application, revision=1).exists()
    event = AuditEvent.objects.get(action="application.submitted", target_id=str(application.pk))
    assert event.actor_id == staff_member.user_id
    assert event.detail["channel"] == "counter"
    assert counted(procedure=procedure, channel="counter") == 1
    note = ApplicationNote.objects.get(application=application)
    assert "窓口で交付希望" in note.body
    assert not OutboxMessage.objects.exists()  # no address given: no mail
    facts = received_facts(application)
    assert facts is not None
    assert facts.channel_label == "窓口で受付"
    assert facts.staff_name == str(staff_member.user)
    assert facts.documents == ("運転免許証",)


def test_a_mail_application_arrives_on_the_day_it_arrived_and_counts_as_mail(
    procedure, staff_member
):
    when = now()
    arrived_on = to_tokyo(when).date() - timedelta(days=3)
    application = register(
        procedure,
        staff_member,
        channel=Channel.MAIL,
        received_date=arrived_on,
        form="short",
        answers=short_answers(),
        documents=["mail_copy", "health_insurance"],
        summary="郵送で届いた住民票の写しの請求",
        contact_email="hanako@example.jp",
        now=when,
    ).application

    assert application.channel == "mail"
    assert application.arrived_at == datetime.combine(arrived_on, time(), TOKYO)
    if procedure.processing_days:
        assert application.due_at == application.arrived_at + timedelta(
            days=procedure.processing_days
        )
    assert (application.ial, application.aal) == (1, 1)  # a copy in the post is not face to face
    assert set(application.answers) == {
        "requester_name",
        "requester_birth_date",
        "requester_address",
    }
    assert counted(procedure=procedure, channel="mail") == 1
    assert OutboxMessage.objects.get(topic="email").payload["to"] == "hanako@example.jp"
    facts = received_facts(application)
    assert facts is not None
    assert facts.channel_label == "郵送で受付"
    assert facts.received_date == arrived_on.isoformat()


def test_the_same_key_twice_registers_once(procedure, staff_member):
    key = new_idempotency_key()
    answers = full_answers(procedure)
    first = register(procedure, staff_member, idempotency_key=key, answers=answers)
    second = register(procedure, staff_member, idempotency_key=key, answers=answers)

    assert second.application.pk == first.application.pk
    assert not second.created
    assert Application.objects.count() == 1
    changed = dict(answers, requester_name={**NAME, "given": "次郎"})
    with pytest.raises(IdempotencyConflict):
        register(procedure, staff_member, idempotency_key=key, answers=changed)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"received_date": "明日"}, "received_date"),
        ({"received_date": "2025-02-30"}, "received_date"),
        ({"received_date": ""}, "received_date"),
        ({"channel": "online"}, "channel"),
        ({"channel": "<script>"}, "channel"),
        ({"form": "everything"}, "form"),
        ({"documents": []}, "documents"),
        ({"documents": ["fingerprint"]}, "documents"),
        ({"documents": ["none", "passport"]}, "documents"),
        ({"documents": ["mail_copy"]}, "documents"),  # at the counter
        ({"contact_email": "not an address"}, "contact_email"),
        ({"contact_email": "a" * 300 + "@example.jp"}, "contact_email"),
        ({"form": "short", "answers": {}, "summary": ""}, "summary"),
        ({"summary": "あ" * 5000}, "summary"),
        ({"answers": {"requester_name": {"family": "", "given": ""}}}, "requester_name"),
        ({"answers": {"no_such_field": "x"}}, "no_such_field"),
    ],
)
def test_bad_input_is_refused_in_japanese_and_nothing_is_stored(
    procedure, staff_member, overrides, key
):
    with pytest.raises(ValidationFailed) as refused:
        register(procedure, staff_member, **overrides)

    assert key in refused.value.errors
    assert any("\u3040" <= c <= "\u30ff" for c in refused.value.errors[key])
    assert not Application.objects.exists()
    assert counted() == 0


def test_a_date_received_in_the_future_is_refused(procedure, staff_member):
    tomorrow = to_tokyo(now()).date() + timedelta(days=1)
    with pytest.raises(ValidationFailed) as refused:
        register(procedure, staff_member, received_date=tomorrow)
    assert refused.value.errors["received_date"] == "受付日に未来の日付は指定できません。"
    with pytest.raises(ValidationFailed):
        register(procedure, staff_member, received_date=date(2000, 1, 1))
    assert not Application.objects.exists()


def test_a_viewer_may_not_register(procedure, organisation):
    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    with pytest.raises(RegistrationNotAllowed):
        register(procedure, viewer)
    assert not Application.objects.exists()


def test_another_organisations_procedure_or_staff_is_not_found(procedure, other_staff):
    with pytest.raises(Procedure.DoesNotExist):
        register(procedure, other_staff)
    with pytest.raises(Procedure.DoesNotExist):
        register(procedure, other_staff, organisation=other_staff.organisation)
    assert not Application.objects.exists()


def test_counter_applications_share_the_inbox_and_exports_with_online_ones(
    procedure, staff_member, resident
):
    online = submit(procedure, resident, valid_answers(procedure)).application
    counter = register(procedure, staff_member).application
    mail = register(procedure, staff_member, channel=Channel.MAIL, documents=["none"]).application

    def listed(**params: str) -> set[int]:
        filters, errors = inbox_filters_parse(params, viewer_id=None)
        assert not errors
        page = inbox_page(organisation=procedure.organisation, filters=filters, now=now())
        return {row.application.pk for row in page.rows}

    assert listed() == {online.pk, counter.pk, mail.pk}
    assert listed(channel="counter") == {counter.pk}
    assert listed(channel="mail") == {mail.pk}
    assert listed(channel="online") == {online.pk}
    assert listed(q="まどぐち") == {counter.pk, mail.pk}
    _filters, errors = inbox_filters_parse({"channel": "fax"}, viewer_id=None)
    assert "channel" in errors

    prepared = applications_export(
        organisation=procedure.organisation,
        procedure=procedure,
        staff=staff_member,
        options=ExportOptions(),
        now=now(),
    )
    text = b"".join(prepared.chunks).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_receipt = {r["receipt_number"]: r for r in rows}
    assert by_receipt[counter.receipt_number]["channel"] == "counter"
    assert by_receipt[mail.receipt_number]["channel"] == "mail"
    assert by_receipt[online.receipt_number]["channel"] == "online"
    assert by_receipt[counter.receipt_number]["received_date"] == (
        to_tokyo(counter.arrived_at).date().isoformat()
    )


# --- 書かない窓口 -------------------------------------------------------------------------


@pytest.fixture
def draft(procedure, resident) -> Draft:
    answers = full_answers(procedure)
    return draft_save(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        step="",
        now=now(),
    )


def test_a_draft_handed_to_the_counter_becomes_the_residents_application(
    procedure, staff_member, resident, draft
):
    issued = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    row = CounterHandoff.objects.get()
    assert issued.token not in (row.token_sha256, row.code_sha256)  # only hashes are kept

    opened = counter_handoff_open(
        organisation=procedure.organisation,
        staff=staff_member,
        secret=issued.code.lower()[:4] + "-" + issued.code[4:],
        now=now(),
    )
    assert opened.procedure == procedure
    assert opened.applicant == resident
    assert opened.answers["requester_name"] == NAME

    application = register(
        procedure, staff_member, answers=opened.answers, handoff=issued.token
    ).application

    assert application.applicant_id == resident.pk
    assert application.channel == "counter"
    assert not Draft.objects.filter(pk=draft.pk).exists()
    assert not CounterHandoff.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "counter_handoff.issued",
        "counter_handoff.opened",
        "counter_handoff.used",
    } <= actions
    with pytest.raises(HandoffRefused) as reused:
        counter_handoff_open(
            organisation=procedure.organisation, staff=staff_member, secret=issued.token, now=now()
        )
    assert reused.value.reason == "unknown"


def test_staff_of_another_organisation_cannot_open_the_draft(
    procedure, other_staff, resident, draft
):
    issued = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    with pytest.raises(HandoffNotFound):
        counter_handoff_open(
            organisation=other_staff.organisation, staff=other_staff, secret=issued.token, now=now()
        )
    assert AuditEvent.objects.filter(
        action="counter_handoff.refused", actor=other_staff.user
    ).exists()
    assert CounterHandoff.objects.exists()


def test_an_expired_code_is_refused(procedure, staff_member, resident, draft):
    issued = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    with pytest.raises(HandoffRefused) as refused:
        counter_handoff_open(
            organisation=procedure.organisation,
            staff=staff_member,
            secret=issued.code,
            now=now() + timedelta(hours=25),
        )
    assert refused.value.reason == "expired"
    assert "有効期限" in str(refused.value)


def test_a_draft_deleted_meanwhile_is_explained(procedure, staff_member, resident, draft):
    issued = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    Draft.objects.filter(pk=draft.pk).delete()
    with pytest.raises(HandoffRefused) as refused:
        counter_handoff_open(
            organisation=procedure.organisation, staff=staff_member, secret=issued.code, now=now()
        )
    assert refused.value.reason == "draft_gone"
    with pytest.raises(HandoffRefused):
        register(procedure, staff_member, handoff=issued.token)
    assert not Application.objects.exists()


@pytest.mark.parametrize("secret", ["", "x", "ZZZZ-ZZZZ", "'; DROP TABLE--", "あ" * 500, "A" * 40])
def test_garbage_codes_are_refused_and_recorded(procedure, staff_member, secret):
    with pytest.raises(HandoffRefused) as refused:
        counter_handoff_open(
            organisation=procedure.organisation, staff=staff_member, secret=secret, now=now()
        )
    assert refused.value.reason == "unknown"
    assert AuditEvent.objects.filter(action="counter_handoff.refused").count() == 1


def test_guessing_codes_is_throttled(procedure, staff_member, resident, draft):
    issued = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    for _ in range(10):
        with pytest.raises(HandoffRefused):
            counter_handoff_open(
                organisation=procedure.organisation,
                staff=staff_member,
                secret="ACDE-FGHJ",
                now=now(),
            )
    with pytest.raises(HandoffRefused) as refused:
        counter_handoff_open(
            organisation=procedure.organisation, staff=staff_member, secret=issued.code, now=now()
        )
    assert refused.value.reason == "throttled"
    later = counter_handoff_open(
        organisation=procedure.organisation,
        staff=staff_member,
        secret=issued.code,
        now=now() + timedelta(minutes=16),
    )
    assert later.applicant == resident


def test_a_resident_can_only_hand_over_their_own_draft(draft, other_resident, resident):
    with pytest.raises(Draft.DoesNotExist):
        counter_handoff_issue(applicant=other_resident, draft_id=draft.pk, now=now())
    with pytest.raises(Draft.DoesNotExist):
        counter_handoff_issue(applicant=resident, draft_id="not-a-uuid", now=now())
    first = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    assert CounterHandoff.objects.count() == 1  # a new code replaces the old one
    with pytest.raises(HandoffRefused):
        counter_handoff_open(
            organisation=draft.organisation,
            staff=staff_create(
                draft.organisation, email="r2@yokohama.test", role=StaffRole.REVIEWER
            ),
            secret=first.code,
            now=now(),
        )


def test_the_scanned_paper_form_becomes_the_applications_attachment(procedure, staff_member):
    from madoguchi.applications.models import Attachment
    from madoguchi.applications.received import received_paper_upload
    from madoguchi.applications.uploads import UploadRefused
    from madoguchi.testing import png_bytes

    key = new_idempotency_key()
    scan = received_paper_upload(
        organisation=procedure.organisation,
        staff=staff_member,
        procedure=procedure,
        idempotency_key=key,
        name="申請書.png",
        data=png_bytes(),
        now=now(),
    )
    with pytest.raises(UploadRefused):
        received_paper_upload(
            organisation=procedure.organisation,
            staff=staff_member,
            procedure=procedure,
            idempotency_key=key,
            name="申請書.pdf",
            data=b"<html><script>alert(1)</script></html>",
            now=now(),
        )
    with pytest.raises(ValidationFailed) as refused:  # another registration's file
        register(procedure, staff_member, paper_form=scan.pk.hex)
    assert "paper_form" in refused.value.errors
    assert not Application.objects.exists()

    application = register(
        procedure, staff_member, idempotency_key=key, paper_form=scan.pk.hex
    ).application

    assert Attachment.objects.get(pk=scan.pk).application_id == application.pk
