"""The public services of an application's life after arrival: staff review (moves,
corrections, messages, assignment, notes, decisions, the audited reveal of 特定個人情報) and
the applicant's side on my page (answering a correction, withdrawing, reading messages).

One write path per use case: the console, the portal, the staff API and tasks call these
functions and nothing below them. Each one checks who may act (the staff member's role and,
for moves, the procedure's reviewers — an empty list means every reviewer of the
organisation), owns its transaction with ``transaction.atomic(durable=True)`` (so it can never
silently become a step of another), and calls the state machine in
:mod:`madoguchi.applications.workflow`, which locks the row against the status the actor saw.
A decision therefore leaves the same records — transition, 決定通知書, message, mail, audit
events and webhook outbox rows — whether it came from the console or the API.

Errors: :class:`NotAllowed` (403), :class:`ReviewError` / ``InputRefused`` (what was sent
cannot be used), ``StaleStatus`` (someone moved it first), ``TransitionRefused`` (not a move
from the current status), ``Application.DoesNotExist`` (another organisation's: 404).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from django.core.exceptions import PermissionDenied
from django.db import transaction

from madoguchi.applications import workflow
from madoguchi.applications.constants import (
    DECISION_DOCUMENT,
    DECISION_STATUS,
    ApplicationStatus,
    Decision,
)
from madoguchi.applications.documents import certificate_issue, certificate_issued_by
from madoguchi.applications.inbox import applicant_name
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    ApplicationNote,
    ApplicationRevision,
    DecisionTemplate,
    IssuedDocument,
)
from madoguchi.applications.workflow import (
    MAX_MESSAGE,
    MAX_REASON,
    InputRefused,
    StaleStatus,
    TransitionRefused,
    application_transition,
    correction_request,
    message_send,
    notify_applicant,
)
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure
from madoguchi.core.text import visible_text
from madoguchi.core.time import to_tokyo
from madoguchi.documents.certificate import DAMAGE_LEVELS
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.decision import DecisionData, decision_pdf
from madoguchi.documents.issuance import Stamp, document_issue
from madoguchi.documents.models import Document
from madoguchi.forms.answers import walk
from madoguchi.forms.base import field_types
from madoguchi.forms.japanese import wareki
from madoguchi.forms.sealed import Sealed, reveal
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.tenants.models import Organisation

S = ApplicationStatus

MAX_NOTE: Final = 4000
MIN_PURPOSE: Final = 10
MAX_PURPOSE: Final = 500
MAX_BULK: Final = 200
#: Statuses reached only through their own form (with a message or a decision notice).
DECISIONS: Final = DECISION_STATUS

__all__ = [
    "InputRefused",
    "NotAllowed",
    "ReviewError",
    "StaleStatus",
    "TransitionRefused",
]


class ReviewError(InputRefused):
    """A request that cannot be carried out as given; the message says why, in Japanese."""


class NotAllowed(PermissionDenied):
    """The staff member's role (or the procedure's reviewers) does not allow this."""


# --- who may do what ----------------------------------------------------------------------


def staff_may_move(*, staff: Staff, procedure: Procedure) -> bool:
    """Admins always; reviewers when the procedure lists no reviewers or lists them; viewers
    never. The staff member must belong to the procedure's organisation."""
    if not staff.active or staff.organisation_id != procedure.organisation_id:
        return False
    if staff.role == StaffRole.ADMIN:
        return True
    if staff.role != StaffRole.REVIEWER:
        return False
    listed = procedure.reviewers.values_list("pk", flat=True)
    return not listed.exists() or listed.filter(pk=staff.pk).exists()


def require_move(*, staff: Staff, application: Application) -> None:
    """Raise :class:`NotAllowed` unless the staff member may move this application."""
    _require_move(staff, application)


def _require_move(staff: Staff, application: Application) -> None:
    if staff.role == StaffRole.VIEWER:
        raise NotAllowed("閲覧のみの職員は、申請を操作できません。")
    if not staff_may_move(staff=staff, procedure=application.procedure):
        raise NotAllowed(
            "この手続の審査担当に指定されていないため、申請を操作できません。"
            "団体管理者に担当の指定を依頼してください。"
        )


def _own(organisation: Organisation, staff: Staff, application: Application) -> None:
    # Another organisation's application does not exist for this staff member (404, not 403).
    if application.organisation_id != organisation.pk or staff.organisation_id != organisation.pk:
        raise Application.DoesNotExist


def _clean(text: Any, limit: int, what: str, *, required: bool = False) -> str:
    if not isinstance(text, str):
        raise ReviewError(f"{what}が正しくありません。")
    cleaned = visible_text(text)
    if len(cleaned) > limit:
        raise ReviewError(f"{what}は{limit}文字以内で入力してください（現在{len(cleaned)}文字）。")
    if required and not cleaned:
        raise ReviewError(f"{what}を入力してください。")
    return cleaned


# --- moves --------------------------------------------------------------------------------


def application_move(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    to_status: str,
    expected_status: str,
    reason: str = "",
    now: datetime,
) -> Application:
    """Move an application to a status that needs no message or notice (受付, 審査中).

    Decisions go through :func:`application_decide` and corrections through
    :func:`application_correction_request`, so that the applicant is always told.
    Raises :class:`NotAllowed`, ``TransitionRefused`` / ``StaleStatus`` (the status changed
    since the staff member looked), ``Application.DoesNotExist`` (another organisation).
    """
    _own(organisation, staff, application)
    _require_move(staff, application)
    if to_status in (S.APPROVED, S.REJECTED):
        raise ReviewError("承認・却下は、決定の欄から理由を添えて行ってください。")
    if to_status == S.CORRECTION_REQUESTED:
        raise ReviewError("補正の依頼は、補正を依頼する欄から項目と内容を選んで行ってください。")
    reason = _clean(reason, MAX_REASON, "理由")
    open_proposal_refuse(application)
    with transaction.atomic(durable=True):
        return application_transition(
            organisation=organisation,
            application=application,
            to_status=to_status,
            staff_user=staff.user,
            reason=reason,
            expected_status=expected_status,
            now=now,
        )


@dataclass(frozen=True)
class BulkResult:
    application_id: int
    receipt_number: str
    ok: bool
    message: str


def applications_bulk_transition(
    *,
    organisation: Organisation,
    staff: Staff,
    items: Iterable[tuple[int, str]],
    to_status: str,
    now: datetime,
) -> list[BulkResult]:
    """Move several applications, each against the status the staff member saw for it.

    ``items`` are (application id, expected status). Each item is moved in its own
    transaction: one refusal does not undo the others. Ids of other organisations are
    reported as not found, without telling whether they exist. Never raises for an item.
    """
    chosen = list(dict.fromkeys(items))[:MAX_BULK]
    found = {
        a.pk: a
        for a in Application.objects.select_related("procedure").filter(
            organisation=organisation, pk__in=[pk for pk, _ in chosen]
        )
    }
    results: list[BulkResult] = []
    for pk, expected in chosen:
        application = found.get(pk)
        if application is None:
            results.append(BulkResult(pk, "", False, "申請が見つかりません。"))
            continue
        try:
            application_move(
                organisation=organisation,
                application=application,
                staff=staff,
                to_status=to_status,
                expected_status=expected,
                now=now,
            )
        except (TransitionRefused, NotAllowed) as error:
            results.append(BulkResult(pk, application.receipt_number, False, _text(error)))
        else:
            results.append(BulkResult(pk, application.receipt_number, True, "変更しました。"))
    return results


def _text(error: Exception) -> str:
    return str(error.args[0]) if error.args else str(error)


def application_correction_request(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    body: str,
    fields: Sequence[str],
    expected_status: str,
    now: datetime,
) -> ApplicationMessage:
    """Ask for a correction (補正依頼) after checking the staff member may move it. See
    ``workflow.correction_request`` for what is guaranteed; raises :class:`NotAllowed` too."""
    _own(organisation, staff, application)
    _require_move(staff, application)
    open_proposal_refuse(application)
    with transaction.atomic(durable=True):
        return correction_request(
            organisation=organisation,
            application=application,
            staff_user=staff.user,
            body=body,
            fields=[str(f)[:64] for f in fields][:200],
            expected_status=expected_status,
            now=now,
        )


def application_message_send(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    body: str,
    now: datetime,
) -> ApplicationMessage:
    """Send a message to the applicant (my page + mail notice). Viewers may not."""
    _own(organisation, staff, application)
    _require_move(staff, application)
    with transaction.atomic(durable=True):
        return message_send(
            organisation=organisation,
            application=application,
            staff_user=staff.user,
            body=body,
            now=now,
        )


# --- assignment and notes -----------------------------------------------------------------


def application_assign(
    *,
    organisation: Organisation,
    applications: Sequence[Application],
    assignee_staff: Staff | None,
    actor_staff: Staff,
    now: datetime,
) -> int:
    """Set (or, with ``None``, clear) the 担当者 of the given applications. Returns how many.

    Guarantees: all or nothing; the actor may move every one of them; the assignee is active
    staff of the same organisation who may move them too; each change is an audit event.
    Raises :class:`NotAllowed`, :class:`ReviewError`, ``Application.DoesNotExist``.
    """
    if not applications:
        raise ReviewError("担当者を設定する申請を選んでください。")
    for application in applications:
        _own(organisation, actor_staff, application)
        _require_move(actor_staff, application)
    if assignee_staff is not None and (
        assignee_staff.organisation_id != organisation.pk
        or not assignee_staff.active
        or assignee_staff.role == StaffRole.VIEWER
    ):
        raise ReviewError("担当者に指定できない職員です。")
    for application in applications:
        if assignee_staff is not None and not staff_may_move(
            staff=assignee_staff, procedure=application.procedure
        ):
            raise ReviewError(
                f"受付番号 {application.receipt_number} の手続は、指定した職員の担当ではありません。"
            )
    user = assignee_staff.user if assignee_staff is not None else None
    with transaction.atomic(durable=True):
        for application in applications:
            Application.objects.filter(pk=application.pk, organisation=organisation).update(
                assignee=user, updated_at=now
            )
            application.assignee = user
            audit_record(
                action=AuditAction.APPLICATION_ASSIGNED,
                now=now,
                organisation=organisation,
                actor=actor_staff.user,
                actor_label="職員",
                target_type="application",
                target_id=application.pk,
                detail={"assignee": user.pk if user else None},
            )
    return len(applications)


def applications_bulk_assign(
    *,
    organisation: Organisation,
    application_ids: Iterable[int],
    assignee_staff: Staff | None,
    actor_staff: Staff,
    now: datetime,
) -> int:
    """:func:`application_assign` for the applications of ``organisation`` among the given
    ids (at most 200; other organisations' ids are ignored, not reported). Returns how many.
    Raises what :func:`application_assign` raises."""
    ids = list(dict.fromkeys(application_ids))[:MAX_BULK]
    found = list(
        Application.objects.select_related("procedure").filter(
            organisation=organisation, pk__in=ids
        )
    )
    return application_assign(
        organisation=organisation,
        applications=found,
        assignee_staff=assignee_staff,
        actor_staff=actor_staff,
        now=now,
    )


def note_add(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    body: str,
    now: datetime,
) -> ApplicationNote:
    """Add an internal note (内部メモ, never shown to the applicant). Viewers may not.
    Raises :class:`ReviewError` (empty or longer than 4000 characters), :class:`NotAllowed`."""
    _own(organisation, staff, application)
    if staff.role == StaffRole.VIEWER:
        raise NotAllowed("閲覧のみの職員は、内部メモを書けません。")
    body = _clean(body, MAX_NOTE, "内部メモ", required=True)
    with transaction.atomic(durable=True):
        note = ApplicationNote.objects.create(
            organisation=organisation,
            application=application,
            author=staff.user,
            body=body,
            created_at=now,
        )
        audit_record(
            action=AuditAction.APPLICATION_NOTE,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="application",
            target_id=application.pk,
            detail={"note": note.pk},
        )
    return note


# --- views and reveals (every read of personal data is recorded) --------------------------


def application_view_record(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    now: datetime,
    channel: str = "console",
    actor_label: str = "職員",
    token_prefix: str = "",
) -> None:
    """Record that the staff member opened the application (one ``application.viewed`` audit
    event, no content), from the console or — ``channel="api"`` with the token — the API."""
    _own(organisation, staff, application)
    detail = {"channel": channel} | ({"token": token_prefix} if token_prefix else {})
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.APPLICATION_VIEWED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label=actor_label,
            target_type="application",
            target_id=application.pk,
            detail=detail,
        )


def applications_list_record(
    *,
    organisation: Organisation,
    staff: Staff,
    applications: Sequence[Application],
    now: datetime,
    channel: str,
    actor_label: str,
) -> None:
    """Record that a page of the organisation's applications was listed (receipts and
    statuses, not answers): one audit event naming the ids; nothing for an empty page."""
    if staff.organisation_id != organisation.pk:
        raise Application.DoesNotExist
    if not applications:
        return
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.APPLICATION_LISTED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label=actor_label,
            target_type="application",
            detail={"channel": channel, "ids": [a.pk for a in applications]},
        )


def revealable_fields(application: Application) -> dict[str, str]:
    """Answer path → label of every encrypted (特定個人情報) value the application holds."""
    spec = form_spec(application.form_version)
    return {a.path: a.label for a in walk(spec, application.answers) if isinstance(a.value, Sealed)}


def _revealed_text(application: Application, path: str) -> str:
    """The decrypted value at ``path`` as a person reads it (a bank account in full)."""
    spec = form_spec(application.form_version)
    answer = next(a for a in walk(spec, application.answers) if a.path == path)
    plain = reveal(answer.value)
    if isinstance(plain, dict):
        return field_types[answer.field.type].display(plain, answer.field, reveal=True)
    return str(plain)


def my_number_reveal(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    purpose: str,
    now: datetime,
) -> dict[str, str]:
    """Decrypt the application's 特定個人情報 for one look, with a stated purpose.

    Guarantees: only admins and reviewers who may handle the procedure; the purpose
    (10–500 characters) and the answer paths revealed — never the values — are recorded as
    an ``application.reveal`` audit event before anything is returned.
    Raises :class:`NotAllowed`, :class:`ReviewError` (no purpose, nothing to reveal).
    """
    _own(organisation, staff, application)
    if staff.role not in (StaffRole.ADMIN, StaffRole.REVIEWER):
        raise NotAllowed("閲覧のみの職員は、個人番号を表示できません。")
    _require_move(staff, application)
    purpose = _clean(purpose, MAX_PURPOSE, "利用目的", required=True)
    if len(purpose) < MIN_PURPOSE:
        raise ReviewError(
            f"利用目的は{MIN_PURPOSE}文字以上で、具体的に入力してください"
            "（例: 基幹系システムへの登録のため）。"
        )
    paths = list(revealable_fields(application))
    if not paths:
        raise ReviewError("この申請には、表示できる個人番号はありません。")
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.APPLICATION_REVEAL,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="application",
            target_id=application.pk,
            reason=purpose,
            detail={"fields": paths},
        )
    return {path: _revealed_text(application, path) for path in paths}


# --- decisions ----------------------------------------------------------------------------


def _date_text(instant: datetime) -> str:
    day = to_tokyo(instant).date()
    return f"{wareki(day)}（{day.year}年{day.month}月{day.day}日）"


def decision_pdf_build(
    *,
    organisation: Organisation,
    application: Application,
    outcome: str,
    reason: str,
    now: datetime,
    corrects: str = "",
) -> Callable[[Stamp], bytes]:
    """What builds the 決定通知書 of ``outcome`` for the application once its number and
    verification code are known (:func:`madoguchi.documents.issuance.document_issue` calls it
    inside the issuing transaction); everything it reads is read here, before any row is
    locked. ``corrects`` names the notice a corrected notice replaces (its title then says
    （訂正）); an operational-test application's notice says 運用テスト and has no effect."""
    arrived = to_tokyo(application.arrived_at)
    data = DecisionData(
        organisation_name=organisation.name,
        procedure_name=application.procedure.name,
        receipt_number=application.receipt_number,
        outcome=outcome,
        reason=reason,
        decided_on_text=_date_text(now),
        arrived_at_text=f"{wareki(arrived.date())} {arrived:%H時%M分}（{arrived:%Y-%m-%d %H:%M}）",
        applicant_name=applicant_name(application),
        corrects=corrects,
        is_test=application.is_test,
    )

    def build(stamp: Stamp) -> bytes:
        return decision_pdf(
            replace(
                data,
                number=stamp.number,
                issuer=stamp.issuer,
                code=stamp.code,
                verify_url=stamp.verify_url,
                appeal=stamp.appeal,
            ),
            generated_at=to_tokyo(now),
        )

    return build


#: The number an operational-test application's documents carry instead of a real one.
TEST_NUMBER: Final = "（運用テスト）"


def numbering_for(application: Application) -> dict[str, Any]:
    """What :func:`madoguchi.documents.issuance.document_issue` is given for the documents of
    ``application``: an operational-test application (運用テスト) takes no number of the
    real series (``numbered=False``, printed 「（運用テスト）」); others nothing."""
    return {"numbered": False, "number": TEST_NUMBER} if application.is_test else {}


def decision_apply(
    *,
    organisation: Organisation,
    application: Application,
    actor: User,
    outcome: str,
    reason: str,
    expected_status: str,
    build: Callable[[Stamp], bytes],
    now: datetime,
    damage_level: str = "",
) -> IssuedDocument:
    """The writes of a decision (a step: joins the caller's transaction, checks nothing but
    the move). Used by :func:`application_decide` and by the last sign-off of a proposal
    (:mod:`madoguchi.applications.signoff`), so that a decision leaves the same records
    whichever way it was made. ``damage_level`` is the 被害の程度 a 罹災証明書 certifies
    (checked by :func:`damage_level_clean`)."""
    decision = Decision(outcome)
    kind = DECISION_DOCUMENT[decision]
    title = f"{kind.label}（{application.receipt_number}）"
    application_transition(
        organisation=organisation,
        application=application,
        to_status=DECISION_STATUS[decision],
        staff_user=actor,
        reason=reason,
        expected_status=expected_status,
        now=now,
    )
    record = document_issue(
        organisation=organisation,
        kind=DocumentKind(kind.value),
        title=title,
        source_key=f"application:{application.pk}:decision",
        procedure_key=f"procedure:{application.procedure_id}",
        build=build,
        now=now,
        **numbering_for(application),
    )
    where = "マイページ" if application.applicant_id else "メールでお知らせしたページ"
    body = f"申請を{decision.label}しました。決定通知書（PDF）を{where}で確認してください。"
    if reason:
        body += f"\n\n{'理由' if decision == Decision.REJECT else '備考'}: {reason}"
    notice = notice_deliver(
        organisation=organisation,
        application=application,
        actor=actor,
        record=record,
        kind=kind,
        title=title,
        body=body,
        subject="申請の決定をお知らせします",
        now=now,
    )
    if decision == Decision.APPROVE:  # a certificate procedure (罹災証明書) issues it now
        certificate_issue(
            organisation=organisation,
            application=application,
            actor=actor,
            reason=reason,
            damage_level=damage_level,
            now=now,
        )
    return notice


def notice_deliver(
    *,
    organisation: Organisation,
    application: Application,
    actor: User,
    record: Document,
    kind: str,
    title: str,
    body: str,
    subject: str,
    now: datetime,
) -> IssuedDocument:
    """Hand an issued notice to the applicant (a step: joins the caller's transaction): the
    :class:`IssuedDocument` row, a decision message on my page, the audit event and a mail
    notice (no content). Shared by decisions and corrected notices
    (:mod:`madoguchi.applications.notices`), so both reach the applicant the same way."""
    document = IssuedDocument.objects.create(
        organisation=organisation,
        application=application,
        kind=kind,
        title=title,
        record=record,
        created_at=now,
    )
    ApplicationMessage.objects.create(
        organisation=organisation,
        application=application,
        kind=ApplicationMessage.Kind.DECISION,
        from_staff=True,
        author=actor,
        body=body[:MAX_MESSAGE],
        created_at=now,
    )
    audit_record(
        action=AuditAction.APPLICATION_DOCUMENT_ISSUED,
        now=now,
        organisation=organisation,
        actor=actor,
        actor_label="職員",
        target_type="application",
        target_id=application.pk,
        detail={"document": document.pk, "kind": document.kind, "sha256": document.sha256},
    )
    notify_applicant(application=application, subject=subject, now=now)
    return document


def decision_clean(*, outcome: str, reason: str) -> tuple[Decision, str]:
    """The decision and its cleaned reason; a rejection needs one. Raises :class:`ReviewError`."""
    if outcome not in Decision.values:
        raise ReviewError("決定の内容（承認または却下）を選んでください。")
    decision = Decision(outcome)
    return decision, _clean(reason, MAX_REASON, "決定の理由", required=decision == Decision.REJECT)


def damage_level_clean(*, application: Application, outcome: Decision, damage_level: Any) -> str:
    """The 被害の程度 (one of :data:`madoguchi.documents.certificate.DAMAGE_LEVELS`) an
    approval of a 罹災証明書 procedure certifies; staff choose it explicitly (it is never
    read from the reason). Required for such an approval; ignored (empty) for a rejection
    and for procedures that issue no certificate. Raises :class:`ReviewError` for a value
    that is not one of the levels, or when an approval of a certificate needs one."""
    if damage_level is None:
        damage_level = ""
    if not isinstance(damage_level, str):
        raise ReviewError("被害の程度が正しくありません。一覧から選んでください。")
    level = visible_text(damage_level)
    if level and level not in DAMAGE_LEVELS:
        raise ReviewError(
            "被害の程度は「" + "」「".join(DAMAGE_LEVELS) + "」のいずれかを選んでください。"
        )
    if outcome != Decision.APPROVE or not certificate_issued_by(application):
        return ""
    if not level:
        raise ReviewError(
            "罹災証明書を交付する承認には、被害の程度を選んでください（証明書に記載されます）。"
        )
    return level


def open_proposal_refuse(application: Application) -> None:
    """Raise :class:`ReviewError` while a proposed decision of the application waits for its
    sign-off (決裁待ち): nothing else may move it until the proposal is signed off or returned."""
    if application.proposals.filter(state="pending", from_status=application.status).exists():
        raise ReviewError(
            "この申請には決裁待ちの起案があります。決裁されるか差し戻されるまで、"
            "ほかの操作はできません。"
        )


def decision_check(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    outcome: str,
    reason: str,
    expected_status: str,
    damage_level: Any = "",
) -> tuple[Decision, str]:
    """Every check of :func:`application_decide` and of
    :func:`madoguchi.applications.signoff.decision_propose` that can be made before anything
    is locked (the confirmation page asks it before showing what will happen; the services
    ask it again and check the status once more under the row lock). Returns the decision
    and the cleaned reason (the 被害の程度 is checked by :func:`damage_level_clean`).
    Raises :class:`NotAllowed`, :class:`ReviewError`,
    ``StaleStatus``, ``TransitionRefused``, ``Application.DoesNotExist``."""
    _own(organisation, staff, application)
    _require_move(staff, application)
    open_proposal_refuse(application)
    decision, cleaned = decision_clean(outcome=outcome, reason=reason)
    damage_level_clean(application=application, outcome=decision, damage_level=damage_level)
    if application.status != expected_status:
        raise StaleStatus(
            "この申請は、画面を開いた後にほかの操作で状態が変わりました。"
            f"現在の状態は「{S(application.status).label}」です。"
        )
    if DECISION_STATUS[decision] not in workflow.allowed_targets(
        application.status, workflow.STAFF
    ):
        raise TransitionRefused(
            f"「{S(application.status).label}」の申請は{decision.label}できません。"
        )
    return decision, cleaned


def application_decide(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    outcome: str,
    reason: str,
    expected_status: str,
    now: datetime,
    damage_level: str = "",
) -> IssuedDocument:
    """Approve or reject (承認・却下) and issue the 決定通知書, for a procedure without
    sign-off (決裁の段階 0). A procedure with sign-off refuses: its decisions are proposed
    with :func:`madoguchi.applications.signoff.decision_propose` and take effect at the last
    sign-off.

    Guarantees, in one transaction: the move (against ``expected_status``: two staff deciding
    at once make one decision), the notice PDF as an :class:`IssuedDocument` with its
    SHA-256, a decision message on the applicant's my page and a mail notice (no content).
    A rejection needs a reason. An approval of a 罹災証明書 procedure needs
    ``damage_level`` (被害の程度, see :func:`damage_level_clean`) and issues the certificate
    in the same transaction. Raises :class:`NotAllowed`, :class:`ReviewError`,
    ``TransitionRefused`` / ``StaleStatus``, ``Application.DoesNotExist``,
    :class:`madoguchi.documents.seal.SealError` (nothing issued).
    """
    _own(organisation, staff, application)
    _require_move(staff, application)
    if application.procedure.signoff_steps:
        raise ReviewError(
            "この手続の決定には決裁が必要です。決定を起案し、決裁権限のある職員の決裁を受けてください。"
        )
    open_proposal_refuse(application)
    decision, reason = decision_clean(outcome=outcome, reason=reason)
    level = damage_level_clean(application=application, outcome=decision, damage_level=damage_level)
    # Read before the row is locked; built with its number inside the transaction.
    build = decision_pdf_build(
        organisation=organisation, application=application, outcome=decision, reason=reason, now=now
    )
    with transaction.atomic(durable=True):
        return decision_apply(
            organisation=organisation,
            application=application,
            actor=staff.user,
            outcome=decision,
            reason=reason,
            expected_status=expected_status,
            build=build,
            now=now,
            damage_level=level,
        )


def application_decision_make(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    outcome: str,
    reason: str,
    expected_status: str,
    now: datetime,
    damage_level: str = "",
) -> IssuedDocument | Any:
    """What staff asking to approve or reject gets, from the console or the API: the decision
    itself (:func:`application_decide`, returns the notice) for a procedure without sign-off,
    else a proposal waiting for sign-off
    (:func:`madoguchi.applications.signoff.decision_propose`, returns the proposal).
    Raises what those raise."""
    if application.procedure.signoff_steps:
        # Imported here: signoff builds on this module.
        from madoguchi.applications.signoff import decision_propose

        return decision_propose(
            organisation=organisation,
            application=application,
            staff=staff,
            outcome=outcome,
            reason=reason,
            expected_status=expected_status,
            now=now,
            damage_level=damage_level,
        )
    return application_decide(
        organisation=organisation,
        application=application,
        staff=staff,
        outcome=outcome,
        reason=reason,
        expected_status=expected_status,
        now=now,
        damage_level=damage_level,
    )


# --- decision templates (文例) ------------------------------------------------------------


def decision_template_save(
    *,
    organisation: Organisation,
    staff: Staff,
    kind: str,
    title: str,
    body: str,
    now: datetime,
    template: DecisionTemplate | None = None,
) -> DecisionTemplate:
    """Create or (with ``template``) update a 文例. Admins only; recorded as an audit event.
    Raises :class:`NotAllowed`, :class:`ReviewError`, ``DecisionTemplate.DoesNotExist``."""
    if staff.organisation_id != organisation.pk or staff.role != StaffRole.ADMIN:
        raise NotAllowed("文例を編集できるのは団体管理者だけです。")
    if template is not None and template.organisation_id != organisation.pk:
        raise DecisionTemplate.DoesNotExist
    if kind not in DecisionTemplate.Kind.values:
        raise ReviewError("文例の種類を選んでください。")
    title = _clean(title, 100, "文例の名前", required=True)
    body = _clean(body, MAX_MESSAGE, "文例の本文", required=True)
    with transaction.atomic(durable=True):
        if template is None:
            template = DecisionTemplate.objects.create(
                organisation=organisation,
                kind=kind,
                title=title,
                body=body,
                created_at=now,
                updated_at=now,
            )
        else:
            template.kind, template.title, template.body, template.updated_at = (
                kind,
                title,
                body,
                now,
            )
            template.save(update_fields=["kind", "title", "body", "updated_at"])
        audit_record(
            action=AuditAction.DECISION_TEMPLATE_SAVED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="decision_template",
            target_id=template.pk,
            detail={"kind": kind},
        )
    return template


def decision_template_delete(
    *, organisation: Organisation, staff: Staff, template: DecisionTemplate, now: datetime
) -> None:
    """Delete a 文例. Admins only; recorded. Raises :class:`NotAllowed`."""
    if staff.organisation_id != organisation.pk or staff.role != StaffRole.ADMIN:
        raise NotAllowed("文例を削除できるのは団体管理者だけです。")
    if template.organisation_id != organisation.pk:
        raise DecisionTemplate.DoesNotExist
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.DECISION_TEMPLATE_DELETED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="decision_template",
            target_id=template.pk,
            detail={"kind": template.kind},
        )
        template.delete()


# --- one request, whatever the target (the staff API) ----------------------------------------


def application_status_change(
    *,
    organisation: Organisation,
    application: Application,
    staff: Staff,
    to_status: str,
    expected_status: str,
    reason: str = "",
    fields: Sequence[str] = (),
    now: datetime,
    damage_level: str = "",
) -> Application:
    """Move an application to ``to_status`` through the service that owns that move.

    承認・却下 go through :func:`application_decide` (a rejection needs ``reason``; the
    決定通知書, message, mail, audit events and webhook rows are issued as in the console) —
    or, for a procedure with sign-off (決裁), through
    :func:`madoguchi.applications.signoff.decision_propose`: the status stays as it is until
    the last sign-off, as in the console,
    補正依頼 through :func:`application_correction_request` (``reason`` is what the applicant
    reads, ``fields`` the answers to correct), the others through :func:`application_move`.
    ``damage_level`` is the 被害の程度 an approval of a 罹災証明書 procedure needs.
    Returns the application as stored afterwards. Raises what those services raise, and
    :class:`ReviewError` for an unknown status.
    """
    if to_status not in S.values:
        raise ReviewError("移動先の状態が正しくありません。")
    if to_status in (S.APPROVED, S.REJECTED):
        application_decision_make(
            organisation=organisation,
            application=application,
            staff=staff,
            outcome=Decision.APPROVE if to_status == S.APPROVED else Decision.REJECT,
            reason=reason,
            expected_status=expected_status,
            now=now,
            damage_level=damage_level,
        )
    elif to_status == S.CORRECTION_REQUESTED:
        application_correction_request(
            organisation=organisation,
            application=application,
            staff=staff,
            body=reason,
            fields=fields,
            expected_status=expected_status,
            now=now,
        )
    else:
        application_move(
            organisation=organisation,
            application=application,
            staff=staff,
            to_status=to_status,
            expected_status=expected_status,
            reason=reason,
            now=now,
        )
    application.refresh_from_db()
    return application


# --- the applicant's side (my page) -------------------------------------------------------


def application_correction_answer(
    *,
    applicant: User,
    application: Application,
    changes: Mapping[str, Any],
    note: str = "",
    now: datetime,
) -> ApplicationRevision:
    """The applicant answers a correction request (補正) by changing the indicated answers.

    Guarantees, in one transaction of its own: only the fields named in the open request
    change; the whole form is validated again; a new revision is stored and the earlier ones
    kept; new files are claimed; the status becomes 補正済み with a transition record and an
    audit event. Raises ``Application.DoesNotExist`` (not the applicant's),
    ``TransitionRefused`` / ``InputRefused`` and ``ValidationFailed`` (answers).
    """
    with transaction.atomic(durable=True):
        return workflow.correction_answer(
            applicant=applicant, application=application, changes=changes, note=note, now=now
        )


def application_withdraw(
    *, applicant: User, application: Application, reason: str = "", now: datetime
) -> Application:
    """The applicant withdraws (取下げ) an application still being handled.

    Guarantees, in one transaction of its own: allowed only while the status allows it and
    the procedure allows withdrawal online; recorded as a transition with the reason and an
    audit event; a mail notice is queued. Raises ``Application.DoesNotExist`` (not the
    applicant's) and ``TransitionRefused``.
    """
    with transaction.atomic(durable=True):
        return workflow.application_withdraw(
            applicant=applicant, application=application, reason=reason, now=now
        )


def application_messages_mark_read(
    *, applicant: User, application: Application, now: datetime
) -> int:
    """Mark the organisation's messages as read by the applicant; returns how many.
    Raises ``Application.DoesNotExist`` for another person's application."""
    with transaction.atomic(durable=True):
        return workflow.messages_mark_read(applicant=applicant, application=application, now=now)
