"""Sign-off (決裁): a decision proposed by one staff member takes effect only when others
with the sign-off role sign it off — never the proposer, one step each, one signature per step."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    DecisionProposal,
    DecisionSignoff,
    IssuedDocument,
    StaffNotice,
)
from madoguchi.applications.review import (
    NotAllowed,
    ReviewError,
    StaleStatus,
    application_correction_request,
    application_decide,
    application_move,
    application_status_change,
    application_withdraw,
)
from madoguchi.applications.signoff import (
    decision_propose,
    decision_return,
    decision_signoff,
    proposal_open,
)
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.services import CatalogError, procedure_set_signoff_steps
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import StaffError, staff_set_signoff
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import staff_create
from madoguchi.testing import submit_named as apply


def _signer(organisation, admin, email, name):
    member = staff_create(organisation, email=email, role=StaffRole.REVIEWER, display_name=name)
    return staff_set_signoff(
        organisation=organisation, staff_id=member.pk, may_sign_off=True, actor=admin, now=now()
    )


@pytest.fixture
def chief(organisation, admin_staff):
    """係長: a reviewer with the sign-off role."""
    return _signer(organisation, admin_staff, "chief@yokohama.test", "係長 二郎")


@pytest.fixture
def manager(organisation, admin_staff):
    """課長: another holder of the sign-off role."""
    return _signer(organisation, admin_staff, "manager@yokohama.test", "課長 三郎")


def with_steps(procedure, admin, steps):
    return procedure_set_signoff_steps(
        organisation=procedure.organisation,
        procedure=procedure,
        steps=steps,
        actor=admin.user,
        now=now(),
    )


def accepted(procedure, resident, admin):
    """An application of ``procedure`` received (受付) by the admin: it may be decided."""
    application = apply(procedure, resident)
    application_move(
        organisation=application.organisation,
        application=application,
        staff=admin,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    return application


@pytest.fixture
def application(procedure, resident, admin_staff):
    with_steps(procedure, admin_staff, 1)
    return accepted(procedure, resident, admin_staff)


def fresh(application):
    return Application.objects.select_related("procedure", "organisation").get(pk=application.pk)


def propose(application, staff, outcome="approve", reason="要件を満たしています。"):
    return decision_propose(
        organisation=application.organisation,
        application=fresh(application),
        staff=staff,
        outcome=outcome,
        reason=reason,
        expected_status=fresh(application).status,
        now=now(),
    )


def sign(proposal, staff, step=None):
    proposal = DecisionProposal.objects.get(pk=proposal.pk)
    return decision_signoff(
        organisation=proposal.organisation,
        proposal=proposal,
        staff=staff,
        expected_step=step if step is not None else proposal.steps_done + 1,
        now=now(),
    )


def status_of(application):
    return Application.objects.values_list("status", flat=True).get(pk=application.pk)


def test_a_proposal_changes_nothing_until_another_staff_member_signs_it_off(
    application, staff_member, chief
):
    proposal = propose(application, staff_member)

    assert status_of(application) == S.ACCEPTED
    assert not IssuedDocument.objects.exists()
    assert proposal_open(fresh(application)) == proposal
    assert AuditEvent.objects.filter(action="decision.proposed").count() == 1
    # The sign-off holder is told (not the proposer).
    assert list(
        StaffNotice.objects.filter(kind="signoff_request").values_list("recipient", flat=True)
    ) == [chief.user_id]

    OutboxMessage.objects.all().delete()
    sign(proposal, chief)

    assert status_of(application) == S.APPROVED
    document = IssuedDocument.objects.get(application=application)
    assert bytes(document.pdf).startswith(b"%PDF")
    assert ApplicationMessage.objects.filter(application=application, kind="decision").exists()
    assert sum("決定" in m.payload["subject"] for m in OutboxMessage.objects.all()) == 1
    proposal.refresh_from_db()
    assert proposal.state == "approved"
    assert AuditEvent.objects.filter(action="decision.signed_off", actor=chief.user).exists()
    assert AuditEvent.objects.filter(action="application.document_issued").count() == 1


def test_the_proposer_cannot_sign_off_their_own_proposal(application, chief, manager):
    proposal = propose(application, chief)  # a sign-off holder proposing

    with pytest.raises(NotAllowed, match="自分が起案した決定は決裁できません"):
        sign(proposal, chief)
    with pytest.raises(NotAllowed):
        decision_return(
            organisation=application.organisation,
            proposal=proposal,
            staff=chief,
            expected_step=1,
            reason="取り下げたい",
            now=now(),
        )
    assert status_of(application) == S.ACCEPTED
    assert not DecisionSignoff.objects.exists()

    sign(proposal, manager)
    assert status_of(application) == S.APPROVED


def test_staff_without_the_sign_off_role_cannot_sign_off(application, staff_member, admin_staff):
    proposal = propose(application, staff_member)
    for someone in (admin_staff,):  # an admin is not a signer unless given the role
        with pytest.raises(NotAllowed, match="決裁権限がありません"):
            sign(proposal, someone)
    assert status_of(application) == S.ACCEPTED


def test_two_steps_need_two_different_signers(
    procedure, resident, admin_staff, staff_member, chief, manager
):
    with_steps(procedure, admin_staff, 2)
    application = accepted(procedure, resident, admin_staff)
    proposal = propose(application, staff_member, "reject", "所得の要件を満たしていません。")
    assert proposal.steps_required == 2

    sign(proposal, chief)
    assert status_of(application) == S.ACCEPTED  # one step of two: nothing decided yet
    # The second step is asked of the other holder only.
    second = StaffNotice.objects.filter(kind="signoff_request").latest("id")
    assert second.recipient_id == manager.user_id

    with pytest.raises(NotAllowed, match="1人1段階まで"):
        sign(proposal, chief)
    sign(proposal, manager)
    assert status_of(application) == S.REJECTED
    assert IssuedDocument.objects.get(application=application).kind == "decision_reject"


def test_a_returned_proposal_tells_the_proposer_why_and_decides_nothing(
    application, staff_member, chief
):
    proposal = propose(application, staff_member)
    with pytest.raises(ReviewError, match="差戻しの理由を入力"):
        decision_return(
            organisation=application.organisation,
            proposal=proposal,
            staff=chief,
            expected_step=1,
            reason="   ",
            now=now(),
        )
    decision_return(
        organisation=application.organisation,
        proposal=proposal,
        staff=chief,
        expected_step=1,
        reason="添付の証明書の有効期限を確認してください。",
        now=now(),
    )
    proposal.refresh_from_db()
    assert proposal.state == "returned"
    assert proposal.return_reason == "添付の証明書の有効期限を確認してください。"
    assert status_of(application) == S.ACCEPTED
    assert StaffNotice.objects.filter(kind="signoff_returned", recipient=staff_member.user).exists()
    assert AuditEvent.objects.filter(action="decision.returned", actor=chief.user).exists()
    with pytest.raises(StaleStatus):
        sign(proposal, chief)
    # The proposer may now ask for a correction, or propose again.
    again = propose(application, staff_member, "reject", "期限切れの証明書のため。")
    assert again.state == "pending"


def test_while_a_proposal_waits_nothing_else_moves_the_application(
    application, staff_member, admin_staff
):
    propose(application, staff_member)
    with pytest.raises(ReviewError, match="決裁待ちの起案"):
        application_move(
            organisation=application.organisation,
            application=fresh(application),
            staff=admin_staff,
            to_status=S.IN_REVIEW,
            expected_status=S.ACCEPTED,
            now=now(),
        )
    with pytest.raises(ReviewError, match="決裁待ちの起案"):
        application_correction_request(
            organisation=application.organisation,
            application=fresh(application),
            staff=admin_staff,
            body="電話番号を確認してください。",
            fields=["requester_phone"],
            expected_status=S.ACCEPTED,
            now=now(),
        )
    with pytest.raises(ReviewError, match="決裁待ちの起案"):
        propose(application, admin_staff)
    assert DecisionProposal.objects.count() == 1


def test_a_procedure_with_sign_off_cannot_be_decided_directly(application, admin_staff):
    with pytest.raises(ReviewError, match="決裁が必要"):
        application_decide(
            organisation=application.organisation,
            application=fresh(application),
            staff=admin_staff,
            outcome="approve",
            reason="",
            expected_status=S.ACCEPTED,
            now=now(),
        )
    assert status_of(application) == S.ACCEPTED


def test_the_api_route_proposes_for_a_procedure_with_sign_off(application, admin_staff, chief):
    moved = application_status_change(
        organisation=application.organisation,
        application=fresh(application),
        staff=admin_staff,
        to_status=S.APPROVED,
        expected_status=S.ACCEPTED,
        now=now(),
    )
    assert moved.status == S.ACCEPTED
    proposal = proposal_open(moved)
    assert proposal is not None
    assert proposal.proposed_by_id == admin_staff.user_id


def test_a_withdrawal_makes_a_waiting_proposal_stale(application, resident, staff_member, chief):
    proposal = propose(application, staff_member)
    application_withdraw(applicant=resident, application=fresh(application), now=now())

    with pytest.raises(StaleStatus, match="状態が変わりました"):
        sign(proposal, chief)
    assert status_of(application) == S.WITHDRAWN
    assert not IssuedDocument.objects.exists()
    assert proposal_open(fresh(application)) is None


def test_a_step_that_is_not_the_next_one_is_refused(application, staff_member, chief):
    proposal = propose(application, staff_member)
    for step in (0, 2, -1, 10**6):
        with pytest.raises((ReviewError, StaleStatus)):
            sign(proposal, chief, step=step)
    assert not DecisionSignoff.objects.exists()


def test_another_organisation_cannot_sign_off(
    application, staff_member, other_organisation, other_admin
):
    proposal = propose(application, staff_member)
    stranger = staff_set_signoff(
        organisation=other_organisation,
        staff_id=other_admin.pk,
        may_sign_off=True,
        actor=other_admin,
        now=now(),
    )
    with pytest.raises(DecisionProposal.DoesNotExist):
        decision_signoff(
            organisation=other_organisation,
            proposal=proposal,
            staff=stranger,
            expected_step=1,
            now=now(),
        )
    assert status_of(application) == S.ACCEPTED


def test_sign_off_settings_refuse_hostile_values(
    procedure, admin_staff, staff_member, organisation
):
    for value in ("4", "-1", "一", "1.5", "", "９", None, "1" * 50):
        with pytest.raises(CatalogError):
            with_steps(procedure, admin_staff, value)
    procedure.refresh_from_db()
    assert procedure.signoff_steps == 0
    viewer = staff_create(organisation, email="v@yokohama.test", role=StaffRole.VIEWER)
    with pytest.raises(StaffError, match="閲覧のみ"):
        staff_set_signoff(
            organisation=organisation,
            staff_id=viewer.pk,
            may_sign_off=True,
            actor=admin_staff,
            now=now(),
        )
    with pytest.raises(StaffError, match="団体管理者だけ"):
        staff_set_signoff(
            organisation=organisation,
            staff_id=staff_member.pk,
            may_sign_off=True,
            actor=staff_member,
            now=now(),
        )


@pytest.mark.django_db(transaction=True)
def test_two_sign_offs_of_the_same_step_do_not_both_apply(
    procedure, resident, admin_staff, staff_member, chief, manager
):
    with_steps(procedure, admin_staff, 1)
    application = accepted(procedure, resident, admin_staff)
    proposal = propose(application, staff_member)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def race(signer):
        try:
            barrier.wait()
            sign(proposal, signer, step=1)
            outcomes.append("ok")
        except StaleStatus:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(s,)) for s in (chief, manager)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert DecisionSignoff.objects.filter(proposal=proposal).count() == 1
    assert IssuedDocument.objects.filter(application=application).count() == 1
    assert status_of(application) == S.APPROVED


def test_a_certificate_proposal_keeps_its_damage_level_until_the_last_sign_off(
    organisation, templates_loaded, resident, admin_staff, chief
):
    import io
    import re

    import pypdf

    from madoguchi.applications.review import ReviewError
    from madoguchi.testing import answers_with_file_rows, procedure_publish, submit

    risai = procedure_publish(organisation, "risai-shomei")
    with_steps(risai, admin_staff, 1)
    answers = answers_with_file_rows(risai, owner=resident)
    application = submit(risai, resident, answers).application
    application_move(
        organisation=organisation,
        application=application,
        staff=admin_staff,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    with pytest.raises(ReviewError, match="被害の程度を選んでください"):
        propose(application, admin_staff, reason="全壊には至らず、半壊と判定しました")

    proposal = decision_propose(
        organisation=organisation,
        application=fresh(application),
        staff=admin_staff,
        outcome="approve",
        reason="全壊には至らず、半壊と判定しました",
        expected_status=S.ACCEPTED,
        now=now(),
        damage_level="半壊",
    )
    assert DecisionProposal.objects.get(pk=proposal.pk).damage_level == "半壊"
    sign(proposal, chief)

    certificate = fresh(application).documents.get(kind="certificate").record
    reader = pypdf.PdfReader(io.BytesIO(bytes(certificate.pdf)))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    assert "■半壊" in text
    assert "■全壊" not in text
