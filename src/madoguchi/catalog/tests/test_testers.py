"""運用テスト: an admin starts the test of a 準備中 procedure and names its testers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, ProcedureTester
from madoguchi.catalog.testers import (
    INVITATION_VALID,
    ProcedureTesterError,
    procedure_for_applicant,
    procedure_test_start,
    procedure_tester_add,
    procedure_tester_invitation_accept,
    procedure_tester_invitation_get,
    procedure_tester_invite,
    procedure_tester_of,
    procedure_tester_remove,
)
from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.ratelimit import MailRateLimited
from madoguchi.testing import invited_tester, procedure_under_test, resident_create

pytestmark = pytest.mark.usefixtures("templates_loaded")


@pytest.fixture
def trial(organisation, admin_staff):
    return procedure_under_test(organisation, admin_staff.user)


def test_starting_needs_a_draft_and_happens_once(organisation, admin_staff, procedure):
    with pytest.raises(ProcedureTesterError, match="準備中"):
        procedure_test_start(
            organisation=organisation, procedure=procedure, actor=admin_staff.user, now=now()
        )
    trial = procedure_under_test(organisation, admin_staff.user, slug="sodai-gomi")
    with pytest.raises(ProcedureTesterError, match="既に始まって"):
        procedure_test_start(
            organisation=organisation, procedure=trial, actor=admin_staff.user, now=now()
        )
    assert (
        AuditEvent.objects.filter(action="procedure.test_started", target_id=trial.pk).count() == 1
    )


def test_another_organisations_procedure_is_not_found(trial, other_admin, other_organisation):
    with pytest.raises(Procedure.DoesNotExist):
        procedure_test_start(
            organisation=other_organisation, procedure=trial, actor=other_admin.user, now=now()
        )
    with pytest.raises(Procedure.DoesNotExist):
        procedure_tester_add(
            organisation=other_organisation,
            procedure=trial,
            staff_id=other_admin.pk,
            actor=other_admin.user,
            now=now(),
        )
    assert not ProcedureTester.objects.exists()


def test_a_named_staff_member_is_a_tester_once(trial, organisation, admin_staff, staff_member):
    tester = procedure_tester_add(
        organisation=organisation,
        procedure=trial,
        staff_id=staff_member.pk,
        actor=admin_staff.user,
        now=now(),
    )
    assert procedure_tester_of(procedure=trial, user=staff_member.user) == tester
    assert procedure_tester_of(procedure=trial, user=admin_staff.user) is None
    with pytest.raises(ProcedureTesterError, match="既に試験者"):
        procedure_tester_add(
            organisation=organisation,
            procedure=trial,
            staff_id=staff_member.pk,
            actor=admin_staff.user,
            now=now(),
        )
    assert ProcedureTester.objects.count() == 1
    event = AuditEvent.objects.get(action="procedure.tester_added")
    assert event.detail == {"tester": tester.pk, "staff": staff_member.pk}


@pytest.mark.parametrize("staff_id", [None, 0, -1, True, "1", 999_999])
def test_an_unknown_staff_member_is_refused(trial, organisation, admin_staff, staff_id):
    with pytest.raises(ProcedureTesterError, match="一覧から選んで"):
        procedure_tester_add(
            organisation=organisation,
            procedure=trial,
            staff_id=staff_id,
            actor=admin_staff.user,
            now=now(),
        )
    assert not ProcedureTester.objects.exists()


def test_staff_of_another_organisation_cannot_be_named(
    trial, organisation, admin_staff, other_staff
):
    with pytest.raises(ProcedureTesterError, match="見つかりません"):
        procedure_tester_add(
            organisation=organisation,
            procedure=trial,
            staff_id=other_staff.pk,
            actor=admin_staff.user,
            now=now(),
        )
    assert procedure_tester_of(procedure=trial, user=other_staff.user) is None


def test_testers_need_a_running_test(organisation, admin_staff, staff_member, adopted):
    with pytest.raises(ProcedureTesterError, match="先に運用テストを開始"):
        procedure_tester_add(
            organisation=organisation,
            procedure=adopted,
            staff_id=staff_member.pk,
            actor=admin_staff.user,
            now=now(),
        )


def test_an_invitation_mails_a_link_and_keeps_only_its_hash(trial, admin_staff):
    tester, token = invited_tester(trial, " Hanako.Test@Example.JP ", admin_staff.user)
    assert tester.email == "hanako.test@example.jp"
    assert tester.token_hash
    assert token not in tester.token_hash
    mail = OutboxMessage.objects.get(payload__to="hanako.test@example.jp")
    assert mail.payload["subject"].startswith("【運用テスト】【横浜市】")
    assert trial.name in mail.payload["subject"]
    assert mail.recipient_key  # counted towards the mail limits
    event = AuditEvent.objects.get(action="procedure.tester_invited")
    assert "example.jp" not in str(event.detail)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "not-an-address",
        "a@",
        "@example.jp",
        "a@b@c.jp",
        "x" * 300 + "@example.jp",
        "<script>@example.jp",
        None,
        ["a@example.jp"],
        "a@example.jp\nBcc: b@example.jp",
    ],
)
def test_a_garbage_address_is_refused_and_nothing_is_sent(
    trial, organisation, admin_staff, garbage
):
    with pytest.raises(ProcedureTesterError, match="正しく入力"):
        procedure_tester_invite(
            organisation=organisation,
            procedure=trial,
            email=garbage,
            actor=admin_staff.user,
            now=now(),
            client_address="192.0.2.10",
        )
    assert not ProcedureTester.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_inviting_the_same_person_twice_is_refused(trial, organisation, admin_staff):
    invited_tester(trial, "hanako@example.jp", admin_staff.user)
    with pytest.raises(ProcedureTesterError, match="既に招待"):
        procedure_tester_invite(
            organisation=organisation,
            procedure=trial,
            email="HANAKO@example.jp",
            actor=admin_staff.user,
            now=now(),
            client_address="192.0.2.10",
        )
    assert ProcedureTester.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


def test_a_staff_address_is_named_not_invited(trial, organisation, admin_staff, staff_member):
    with pytest.raises(ProcedureTesterError, match="職員のアカウント"):
        procedure_tester_invite(
            organisation=organisation,
            procedure=trial,
            email=staff_member.user.email,
            actor=admin_staff.user,
            now=now(),
            client_address="192.0.2.10",
        )


def test_invitations_are_rate_limited_per_client(trial, organisation, admin_staff):
    for n in range(20):
        invited_tester(trial, f"person{n}@example.jp", admin_staff.user)
    with pytest.raises(MailRateLimited):
        procedure_tester_invite(
            organisation=organisation,
            procedure=trial,
            email="one-too-many@example.jp",
            actor=admin_staff.user,
            now=now(),
            client_address="192.0.2.10",
        )
    assert not ProcedureTester.objects.filter(email="one-too-many@example.jp").exists()
    assert OutboxMessage.objects.count() == 20


def test_a_resident_is_matched_by_verified_address_or_by_accepting(trial, admin_staff):
    invited, token = invited_tester(trial, "hanako@example.jp", admin_staff.user)
    unverified = resident_create("hanako@example.jp")
    assert procedure_tester_of(procedure=trial, user=unverified) is None
    unverified.email_verified_at = now()
    unverified.save()
    assert procedure_tester_of(procedure=trial, user=unverified) == invited

    other = resident_create("another@example.jp", verified=True)
    accepted = procedure_tester_invitation_accept(token=token, user=other, now=now())
    assert accepted.user == other
    assert procedure_tester_of(procedure=trial, user=other) is not None
    # Once accepted by one account, the link is that account's: the address no longer counts.
    assert procedure_tester_of(procedure=trial, user=unverified) is None
    with pytest.raises(ProcedureTesterError, match="別のアカウント"):
        procedure_tester_invitation_accept(token=token, user=unverified, now=now())
    # The same account again is harmless.
    procedure_tester_invitation_accept(token=token, user=other, now=now())
    assert AuditEvent.objects.filter(action="procedure.tester_accepted").count() == 1


@pytest.mark.parametrize("token", ["", "x", "a" * 101, None, 42])
def test_an_unknown_token_is_not_found(trial, admin_staff, resident, token):
    invited_tester(trial, "hanako@example.jp", admin_staff.user)
    with pytest.raises(ProcedureTester.DoesNotExist):
        procedure_tester_invitation_accept(token=token, user=resident, now=now())


def test_an_invitation_expires_unless_accepted(trial, admin_staff, resident):
    _invited, token = invited_tester(trial, "hanako@example.jp", admin_staff.user)
    later = now() + INVITATION_VALID + timedelta(minutes=1)
    with pytest.raises(ProcedureTester.DoesNotExist):
        procedure_tester_invitation_get(token=token, now=later)
    procedure_tester_invitation_accept(token=token, user=resident, now=now())
    assert procedure_tester_invitation_get(token=token, now=later).user == resident


def test_removing_a_tester_ends_their_access(trial, organisation, admin_staff, other_organisation):
    invited, token = invited_tester(trial, "hanako@example.jp", admin_staff.user)
    with pytest.raises(ProcedureTester.DoesNotExist):
        procedure_tester_remove(
            organisation=organisation,
            procedure=trial,
            tester_id=invited.pk + 1000,
            actor=admin_staff.user,
            now=now(),
        )
    with pytest.raises(Procedure.DoesNotExist):
        procedure_tester_remove(
            organisation=other_organisation,
            procedure=trial,
            tester_id=invited.pk,
            actor=admin_staff.user,
            now=now(),
        )
    procedure_tester_remove(
        organisation=organisation,
        procedure=trial,
        tester_id=invited.pk,
        actor=admin_staff.user,
        now=now(),
    )
    assert not ProcedureTester.objects.exists()
    with pytest.raises(ProcedureTester.DoesNotExist):
        procedure_tester_invitation_get(token=token, now=now())
    assert AuditEvent.objects.filter(action="procedure.tester_removed").count() == 1


def test_the_portal_shows_a_draft_to_its_testers_only(trial, organisation, admin_staff):
    invited, _token = invited_tester(trial, "hanako@example.jp", admin_staff.user)
    tester = resident_create("hanako@example.jp", verified=True)
    stranger = resident_create("stranger@example.jp", verified=True)
    assert procedure_for_applicant(organisation=organisation, procedure_id=trial.pk, user=tester)
    for user in (stranger, None, admin_staff.user):
        with pytest.raises(Procedure.DoesNotExist):
            procedure_for_applicant(organisation=organisation, procedure_id=trial.pk, user=user)
    # Publishing ends the test: the testers are gone, the procedure is for everyone.
    procedure_set_status(
        organisation=organisation, procedure=trial, status=ProcedureStatus.PUBLISHED
    )
    assert not ProcedureTester.objects.filter(pk=invited.pk).exists()
    trial.refresh_from_db()
    assert trial.test_started_at is None
    assert procedure_for_applicant(organisation=organisation, procedure_id=trial.pk, user=stranger)
