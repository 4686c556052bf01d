"""Sign-off (決裁): the public services by which a decision proposed by one staff member
(起案) takes effect only once others with the sign-off role have approved it.

A procedure asks for 0–3 sign-off steps (``Procedure.signoff_steps``, set by the organisation
admin). With 0, staff decide directly (:func:`madoguchi.applications.review.application_decide`).
With 1 or more:

1. a reviewer who may move the application **proposes** a decision
   (:func:`decision_propose`): approve or reject, with the reason the notice will carry; the
   application keeps its status, and nothing else may move it while the proposal waits;
2. at each step, someone with the sign-off role (``Staff.may_sign_off``) **signs it off**
   (:func:`decision_signoff`) — never the proposer (four eyes), and nobody signs two steps of
   one proposal; the last sign-off makes the decision, with exactly the records of a direct
   decision (transition, 決定通知書, message, mail to the applicant, audit, webhooks);
3. or **returns** it (差戻し, :func:`decision_return`) with a reason the proposer reads; the
   proposer may then change course (a correction request, another proposal).

Races: every service locks the application row, then the proposal row, in that order, and
checks the state the actor saw (the status for a proposal, the step for a sign-off); a
database constraint allows one signature per step and one pending proposal per application,
so two sign-offs of the same step never both apply. A proposal whose application moved on
without it (the applicant withdrew) is stale: it cannot be signed, and a new proposal closes it.

Every step is an audit event (``decision.proposed``, ``decision.signed_off``,
``decision.returned``, ``decision.cancelled``) and tells whoever must act next (sign-off
holders, or the proposer) through :mod:`madoguchi.applications.staff_notices`.

Errors: :class:`~madoguchi.applications.review.NotAllowed` (403),
:class:`~madoguchi.applications.review.ReviewError` (input or rule, Japanese),
``StaleStatus`` (someone acted first), ``TransitionRefused`` (the decision is not a move from
the current status), ``Application.DoesNotExist`` / ``DecisionProposal.DoesNotExist`` (404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from madoguchi.applications.constants import (
    DECISION_STATUS,
    ApplicationStatus,
    Decision,
    ProposalState,
    StaffNoticeKind,
)
from madoguchi.applications.models import Application, DecisionProposal, DecisionSignoff
from madoguchi.applications.review import (
    NotAllowed,
    ReviewError,
    StaleStatus,
    TransitionRefused,
    damage_level_clean,
    decision_apply,
    decision_check,
    decision_pdf_build,
    require_move,
)
from madoguchi.applications.staff_notices import notices_add, signers_of
from madoguchi.applications.workflow import MAX_REASON, STAFF, allowed_targets
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.text import visible_text
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation

P = ProposalState

__all__ = [
    "decision_propose",
    "decision_return",
    "decision_signoff",
    "proposal_open",
    "proposals_of",
    "require_signer",
    "staff_may_sign_off",
]


def staff_may_sign_off(*, staff: Staff) -> bool:
    """Active staff with the sign-off role (決裁権限) and a role that acts (not 閲覧のみ)."""
    return staff.active and staff.may_sign_off and staff.role != StaffRole.VIEWER


def proposal_open(application: Application) -> DecisionProposal | None:
    """The proposal of the application waiting for sign-off, if any (a pending proposal
    whose application has moved on is stale and not open)."""
    return (
        DecisionProposal.objects.filter(
            application=application, state=P.PENDING, from_status=application.status
        )
        .select_related("proposed_by")
        .first()
    )


def _own(organisation: Organisation, staff: Staff, application: Application) -> None:
    if application.organisation_id != organisation.pk or staff.organisation_id != organisation.pk:
        raise Application.DoesNotExist


def _own_proposal(organisation: Organisation, staff: Staff, proposal: DecisionProposal) -> None:
    if proposal.organisation_id != organisation.pk or staff.organisation_id != organisation.pk:
        raise DecisionProposal.DoesNotExist


def _reason(text: Any, what: str, *, required: bool) -> str:
    if not isinstance(text, str):
        raise ReviewError(f"{what}が正しくありません。")
    cleaned = visible_text(text)
    if len(cleaned) > MAX_REASON:
        raise ReviewError(
            f"{what}は{MAX_REASON}文字以内で入力してください（現在{len(cleaned)}文字）。"
        )
    if required and not cleaned:
        raise ReviewError(f"{what}を入力してください。")
    return cleaned


def _lock(proposal: DecisionProposal) -> tuple[Application, DecisionProposal]:
    """Lock the application, then the proposal (always in this order: no deadlock)."""
    application = Application.objects.select_for_update().get(pk=proposal.application_id)
    locked = DecisionProposal.objects.select_for_update().get(pk=proposal.pk)
    return application, locked


def _refuse_closed(application: Application, proposal: DecisionProposal) -> None:
    if proposal.state != P.PENDING:
        raise StaleStatus(
            f"この起案は、すでに「{ProposalState(proposal.state).label}」です。画面を開き直してください。"
        )
    if application.status != proposal.from_status:
        raise StaleStatus(
            "起案の後に申請の状態が変わりました"
            f"（現在の状態は「{ApplicationStatus(application.status).label}」）。"
            "この起案は決裁できません。"
        )


def decision_propose(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    outcome: str,
    reason: str,
    expected_status: str,
    now: datetime,
    damage_level: str = "",
) -> DecisionProposal:
    """Propose (起案) approving or rejecting an application of a procedure with sign-off.

    Guarantees, in one transaction: the proposer may move the application; the status is
    still ``expected_status`` and the decision is a move allowed from it; no other proposal
    waits (a stale one is closed as 取消し); the proposal is stored with the procedure's
    number of steps, an audit event is recorded and the sign-off holders are told. The
    application's status does not change. A rejection needs a reason; an approval of a
    罹災証明書 procedure needs ``damage_level`` (被害の程度), kept with the proposal until its
    last sign-off issues the certificate.
    Raises :class:`NotAllowed`, :class:`ReviewError` (no sign-off for this procedure, input,
    a proposal already waiting), ``StaleStatus``, ``TransitionRefused``,
    ``Application.DoesNotExist``.
    """
    _own(organisation, staff, application)
    require_move(staff=staff, application=application)
    steps = application.procedure.signoff_steps
    if not steps:
        raise ReviewError("この手続は決裁が不要です。「決定する」から決定してください。")
    decision, reason = decision_check(
        organisation=organisation,
        application=application,
        staff=staff,
        outcome=outcome,
        reason=reason,
        expected_status=expected_status,
        damage_level=damage_level,
    )
    level = damage_level_clean(application=application, outcome=decision, damage_level=damage_level)
    try:
        with transaction.atomic(durable=True):
            locked = Application.objects.select_for_update().get(pk=application.pk)
            if locked.status != expected_status:
                raise StaleStatus(
                    "この申請は、画面を開いた後にほかの操作で状態が変わりました。"
                    f"現在の状態は「{ApplicationStatus(locked.status).label}」です。"
                )
            if DECISION_STATUS[decision] not in allowed_targets(locked.status, STAFF):
                raise TransitionRefused(
                    f"「{ApplicationStatus(locked.status).label}」の申請は"
                    f"{decision.label}できません。"
                )
            for stale in DecisionProposal.objects.select_for_update().filter(
                application=locked, state=P.PENDING
            ):
                if stale.from_status == locked.status:
                    raise ReviewError(
                        "この申請には決裁待ちの起案がすでにあります。決裁か差戻しを待ってください。"
                    )
                _close(stale, state=P.CANCELLED, by=None, now=now)
            proposal = DecisionProposal.objects.create(
                organisation=organisation,
                application=locked,
                outcome=decision,
                reason=reason,
                damage_level=level,
                from_status=locked.status,
                proposed_by=staff.user,
                proposed_at=now,
                steps_required=steps,
            )
            audit_record(
                action=AuditAction.DECISION_PROPOSED,
                now=now,
                organisation=organisation,
                actor=staff.user,
                actor_label="職員",
                target_type="application",
                target_id=locked.pk,
                detail={"proposal": proposal.pk, "outcome": decision.value, "steps": steps},
            )
            notices_add(
                application=locked,
                kind=StaffNoticeKind.SIGNOFF_REQUEST,
                user_ids=signers_of(organisation_id=organisation.pk, exclude=[staff.user_id]),
                now=now,
            )
    except IntegrityError:  # another proposal was stored at the same moment
        raise ReviewError(
            "この申請には決裁待ちの起案がすでにあります。決裁か差戻しを待ってください。"
        ) from None
    return proposal


def _close(proposal: DecisionProposal, *, state: str, by: Any, now: datetime) -> None:
    proposal.state = state
    proposal.closed_at = now
    proposal.closed_by = by
    proposal.save(update_fields=["state", "closed_at", "closed_by", "return_reason", "steps_done"])
    if state == P.CANCELLED:
        audit_record(
            action=AuditAction.DECISION_CANCELLED,
            now=now,
            organisation=proposal.organisation,
            actor=by,
            actor_label="システム",
            target_type="application",
            target_id=proposal.application_id,
            detail={"proposal": proposal.pk, "from_status": proposal.from_status},
        )


def require_signer(*, staff: Staff, proposal: DecisionProposal) -> None:
    """Raise :class:`NotAllowed` unless the staff member may sign off (or return) the
    proposal: the sign-off role, and not its proposer (four eyes)."""
    if not staff_may_sign_off(staff=staff):
        raise NotAllowed("決裁権限がありません。決裁権限の付与は団体管理者に依頼してください。")
    if proposal.proposed_by_id == staff.user_id:
        raise NotAllowed("自分が起案した決定は決裁できません。ほかの決裁権者に依頼してください。")


def decision_signoff(
    *,
    organisation: Organisation,
    proposal: DecisionProposal,
    staff: Staff,
    expected_step: int,
    comment: str = "",
    now: datetime,
) -> DecisionSignoff:
    """Sign off (決裁) step ``expected_step`` of a proposal; at the last step the decision
    takes effect.

    Guarantees, in one transaction: the signer has the sign-off role, did not propose it and
    signed no earlier step of it (four eyes); the proposal still waits, its application is
    still in the status it was proposed from, and ``expected_step`` is the next step (two
    sign-offs of one step: the second is refused, backed by a unique constraint); the
    signature and an audit event are stored; at the last step the decision is applied exactly
    as :func:`~madoguchi.applications.review.application_decide` does (notice, message, mail,
    webhooks), else the remaining sign-off holders are told.
    Raises :class:`NotAllowed`, :class:`ReviewError`, ``StaleStatus``,
    ``DecisionProposal.DoesNotExist`` (another organisation's).
    """
    _own_proposal(organisation, staff, proposal)
    require_signer(staff=staff, proposal=proposal)
    comment = _reason(comment, "決裁のコメント", required=False)
    if not isinstance(expected_step, int) or not 1 <= expected_step <= proposal.steps_required:
        raise ReviewError("決裁の段階の指定が正しくありません。画面を開き直してください。")
    final = expected_step == proposal.steps_required
    application = proposal.application
    build = (
        decision_pdf_build(
            organisation=organisation,
            application=application,
            outcome=proposal.outcome,
            reason=proposal.reason,
            now=now,
        )
        if final
        else None
    )
    try:
        with transaction.atomic(durable=True):
            locked_application, locked = _lock(proposal)
            _refuse_closed(locked_application, locked)
            if locked.steps_done + 1 != expected_step:
                raise StaleStatus(
                    "ほかの職員が先にこの段階を決裁しました。画面を開き直して確認してください。"
                )
            if locked.signoffs.filter(signer=staff.user).exists():
                raise NotAllowed("同じ起案で決裁できるのは1人1段階までです。")
            signoff = DecisionSignoff.objects.create(
                organisation=organisation,
                proposal=locked,
                step=expected_step,
                signer=staff.user,
                signed_at=now,
                comment=comment,
            )
            locked.steps_done = expected_step
            audit_record(
                action=AuditAction.DECISION_SIGNED_OFF,
                now=now,
                organisation=organisation,
                actor=staff.user,
                actor_label="職員",
                target_type="application",
                target_id=locked.application_id,
                detail={
                    "proposal": locked.pk,
                    "step": expected_step,
                    "of": locked.steps_required,
                    "outcome": locked.outcome,
                },
            )
            if build is not None:
                _close(locked, state=P.APPROVED, by=staff.user, now=now)
                decision_apply(
                    organisation=organisation,
                    application=locked_application,
                    actor=staff.user,
                    outcome=locked.outcome,
                    reason=locked.reason,
                    expected_status=locked.from_status,
                    build=build,
                    now=now,
                    damage_level=locked.damage_level,
                )
            else:
                locked.save(update_fields=["steps_done"])
                signed = list(locked.signoffs.values_list("signer_id", flat=True))
                notices_add(
                    application=locked_application,
                    kind=StaffNoticeKind.SIGNOFF_REQUEST,
                    user_ids=signers_of(
                        organisation_id=organisation.pk,
                        exclude=[locked.proposed_by_id, *signed],
                    ),
                    now=now,
                )
    except IntegrityError:  # the same step signed at the same moment by someone else
        raise StaleStatus(
            "ほかの職員が先にこの段階を決裁しました。画面を開き直して確認してください。"
        ) from None
    proposal.refresh_from_db()
    return signoff


def decision_return(
    *,
    organisation: Organisation,
    proposal: DecisionProposal,
    staff: Staff,
    expected_step: int,
    reason: str,
    now: datetime,
) -> DecisionProposal:
    """Return (差戻し) a proposal to its proposer with a reason; no decision is made.

    Guarantees, in one transaction: the same checks of who and when as
    :func:`decision_signoff` (a proposer cannot return their own proposal either); the
    proposal is closed as 差戻し with the reason, an audit event is recorded and the
    proposer is told. The application keeps its status and may be proposed again.
    Raises :class:`NotAllowed`, :class:`ReviewError` (no reason), ``StaleStatus``,
    ``DecisionProposal.DoesNotExist``.
    """
    _own_proposal(organisation, staff, proposal)
    require_signer(staff=staff, proposal=proposal)
    reason = _reason(reason, "差戻しの理由", required=True)
    with transaction.atomic(durable=True):
        locked_application, locked = _lock(proposal)
        _refuse_closed(locked_application, locked)
        if locked.steps_done + 1 != expected_step:
            raise StaleStatus(
                "ほかの職員が先にこの起案を決裁しました。画面を開き直して確認してください。"
            )
        locked.return_reason = reason
        _close(locked, state=P.RETURNED, by=staff.user, now=now)
        audit_record(
            action=AuditAction.DECISION_RETURNED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="application",
            target_id=locked.application_id,
            reason=reason,
            detail={"proposal": locked.pk, "step": expected_step},
        )
        notices_add(
            application=locked_application,
            kind=StaffNoticeKind.SIGNOFF_RETURNED,
            user_ids=[locked.proposed_by_id],
            now=now,
        )
    proposal.refresh_from_db()
    return proposal


def proposals_of(application: Application) -> list[DecisionProposal]:
    """Every proposal of the application with its sign-offs, oldest first (for the 経過)."""
    return list(
        DecisionProposal.objects.filter(application=application)
        .select_related("proposed_by", "closed_by")
        .prefetch_related("signoffs__signer")
        .order_by("proposed_at", "id")
    )


def decision_label(outcome: str) -> str:
    return str(Decision(outcome).label) if outcome in Decision.values else outcome
