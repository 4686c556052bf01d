"""The life of an application after its arrival: an explicit state machine.

Every move is checked against the table below, made under a row lock against the status the
actor saw (two staff deciding at once: the second is refused), recorded as an
:class:`ApplicationTransition` and an audit event, in one transaction.

These are the *steps*, private to the applications app: they join the caller's transaction.
The console, the portal and the API call the public services of
:mod:`madoguchi.applications.review`, which check who may act, own the transaction
(``durable=True``) and leave the same records whatever the entry point; an import-linter
contract keeps the entry apps away from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.duplicates import RELEASING, claims_release
from madoguchi.applications.links import applicant_status_sentence
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    ApplicationRevision,
    ApplicationTransition,
)
from madoguchi.applications.selectors import open_correction
from madoguchi.applications.services import (
    ValidationFailed,
    canonical_digest,
    claim_attachments,
    protect_answers,
)
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.testers import TEST_SUBJECT_MARK
from madoguchi.core.text import visible_text
from madoguchi.core.time import to_tokyo
from madoguchi.forms.answers import answers_map, holds_specific
from madoguchi.forms.area import organisation_area
from madoguchi.forms.base import FormSpec
from madoguchi.forms.engine import validate
from madoguchi.forms.sealed import Sealed, reveal
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import User
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.tenants.models import Organisation

S = ApplicationStatus

STAFF: Final = "staff"
APPLICANT: Final = "applicant"

#: (from, to) → who may make the move.
TRANSITIONS: Final[dict[tuple[str, str], str]] = {
    (S.SUBMITTED, S.ACCEPTED): STAFF,
    (S.SUBMITTED, S.CORRECTION_REQUESTED): STAFF,
    (S.SUBMITTED, S.REJECTED): STAFF,
    (S.ACCEPTED, S.IN_REVIEW): STAFF,
    (S.ACCEPTED, S.CORRECTION_REQUESTED): STAFF,
    (S.ACCEPTED, S.APPROVED): STAFF,
    (S.ACCEPTED, S.REJECTED): STAFF,
    (S.IN_REVIEW, S.CORRECTION_REQUESTED): STAFF,
    (S.IN_REVIEW, S.APPROVED): STAFF,
    (S.IN_REVIEW, S.REJECTED): STAFF,
    (S.CORRECTION_REQUESTED, S.RESUBMITTED): APPLICANT,
    (S.CORRECTION_REQUESTED, S.REJECTED): STAFF,
    (S.RESUBMITTED, S.IN_REVIEW): STAFF,
    (S.RESUBMITTED, S.CORRECTION_REQUESTED): STAFF,
    (S.RESUBMITTED, S.APPROVED): STAFF,
    (S.RESUBMITTED, S.REJECTED): STAFF,
    **{
        (status, S.WITHDRAWN): APPLICANT
        for status in (
            S.SUBMITTED,
            S.ACCEPTED,
            S.IN_REVIEW,
            S.CORRECTION_REQUESTED,
            S.RESUBMITTED,
        )
    },
}

MAX_REASON = 2000
MAX_MESSAGE = 4000


class TransitionRefused(ValueError):
    """The move is not allowed from the current state or for this actor (message in Japanese)."""


class StaleStatus(TransitionRefused):
    """Someone else moved the application after the actor looked at it."""


class InputRefused(TransitionRefused):
    """What was sent cannot be used as it is (empty, too long, unknown field or status)."""


def allowed_targets(status: str, actor_kind: str) -> list[str]:
    """Statuses the given kind of actor may move an application to from ``status``."""
    return [to for (frm, to), who in TRANSITIONS.items() if frm == status and who == actor_kind]


def _clean_text(text: str, limit: int, what: str) -> str:
    if not isinstance(text, str):
        raise InputRefused(f"{what}が正しくありません。")
    text = visible_text(text)
    if len(text) > limit:
        raise InputRefused(f"{what}は{limit}文字以内で入力してください。")
    return text


def _move(
    application: Application,
    *,
    to_status: str,
    actor_kind: str,
    actor: User,
    actor_label: str,
    reason: str,
    expected_status: str | None,
    now: datetime,
) -> Application:
    """Lock the row, check the move, apply it and record it (inside the caller's atomic)."""
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if expected_status is not None and locked.status != expected_status:
        raise StaleStatus(
            "この申請は、画面を開いた後にほかの操作で状態が変わりました。"
            f"現在の状態は「{ApplicationStatus(locked.status).label}」です。"
        )
    who = TRANSITIONS.get((locked.status, to_status))
    if who != actor_kind:
        raise TransitionRefused(
            f"「{ApplicationStatus(locked.status).label}」の申請を"
            f"「{ApplicationStatus(to_status).label}」にすることはできません。"
        )
    ApplicationTransition.objects.create(
        organisation_id=locked.organisation_id,
        application=locked,
        from_status=locked.status,
        to_status=to_status,
        actor=actor,
        actor_label=actor_label[:64],
        reason=reason,
        created_at=now,
    )
    audit_record(
        action=AuditAction.APPLICATION_TRANSITION,
        now=now,
        organisation=locked.organisation,
        actor=actor,
        actor_label=actor_label,
        target_type="application",
        target_id=locked.pk,
        detail={"from": locked.status, "to": to_status},
    )
    # Inside the transaction (webhook rows commit with the move); imported here so that this
    # one function is all that changes. Sent before the save, so the old status is at hand.
    from madoguchi.applications.events import application_status_changed

    application_status_changed.send(
        sender=Application,
        organisation_id=locked.organisation_id,
        procedure_id=locked.procedure_id,
        application_id=locked.pk,
        from_status=locked.status,
        to_status=to_status,
        changed_at=now,
    )
    if to_status in RELEASING:  # 取下げ・却下: the person may apply again
        claims_release(locked, now=now)
    locked.status = to_status
    locked.save(update_fields=["status", "updated_at"])
    application.status = to_status
    return locked


def application_transition(
    *,
    organisation: Organisation,
    application: Application,
    to_status: str,
    staff_user: User,
    reason: str = "",
    expected_status: str | None = None,
    now: datetime,
) -> Application:
    """Move an application as staff of ``organisation``.

    Guarantees: the move is in :data:`TRANSITIONS` for staff, made against ``expected_status``
    when given (else :class:`StaleStatus`), recorded with actor, time and reason.
    Raises :class:`TransitionRefused`; ``Application.DoesNotExist`` for another
    organisation's application.
    """
    if application.organisation_id != organisation.pk:
        raise Application.DoesNotExist
    if to_status not in ApplicationStatus.values:
        raise InputRefused("移動先の状態が正しくありません。")
    reason = _clean_text(reason, MAX_REASON, "理由")
    with transaction.atomic():
        return _move(
            application,
            to_status=to_status,
            actor_kind=STAFF,
            actor=staff_user,
            actor_label="職員",
            reason=reason,
            expected_status=expected_status,
            now=now,
        )


def _notify_applicant(application: Application, subject: str, now: datetime) -> None:
    email = application.contact_email
    if not email and application.applicant_id:
        email = getattr(application.applicant, "email", "")
    if not email:
        return
    organisation = application.organisation
    # Often sent for a staff member's action: written in the applicant's language, not theirs.
    with translation.override(application.language or "ja"):
        body = gettext(
            "%(organisation)sから、申請（受付番号 %(receipt)s、手続: %(procedure)s）について"
            "お知らせがあります。\n\n"
        ) % {
            "organisation": organisation.name,
            "receipt": application.receipt_number,
            "procedure": application.procedure.name,
        }
        body += f"{applicant_status_sentence(application)}\n"
        body += gettext("このメールには申請の内容を含めていません。") + "\n"
        subject = gettext(subject)
        number = gettext("受付番号")
    outbox_enqueue_email(
        to=email,
        subject=f"{TEST_SUBJECT_MARK if application.is_test else ''}"
        f"【{organisation.name}】{subject}（{number} {application.receipt_number}）",
        body=body,
        now=now,
        organisation=organisation,
    )


def message_send(
    *,
    organisation: Organisation,
    application: Application,
    staff_user: User,
    body: str,
    now: datetime,
) -> ApplicationMessage:
    """Send a message from staff to the applicant: shown on my page, announced by mail
    (the mail carries no content). Raises :class:`TransitionRefused` for an empty or
    overlong body."""
    if application.organisation_id != organisation.pk:
        raise Application.DoesNotExist
    body = _clean_text(body, MAX_MESSAGE, "メッセージ")
    if not body:
        raise InputRefused("メッセージを入力してください。")
    with transaction.atomic():
        message = ApplicationMessage.objects.create(
            organisation=organisation,
            application=application,
            kind=ApplicationMessage.Kind.MESSAGE,
            from_staff=True,
            author=staff_user,
            body=body,
            created_at=now,
        )
        _notify_applicant(application, "お知らせがあります", now)
    return message


def correction_request(
    *,
    organisation: Organisation,
    application: Application,
    staff_user: User,
    body: str,
    fields: list[str],
    expected_status: str | None = None,
    now: datetime,
) -> ApplicationMessage:
    """Ask the applicant to correct the indicated answers (補正依頼).

    Guarantees: ``fields`` are answer keys of the application's form (attachment slots
    included); the status becomes 補正依頼中 with a transition record, the message is on my
    page and a mail notice is queued, all in one transaction. Raises
    :class:`TransitionRefused` (state, empty message, unknown field).
    """
    if application.organisation_id != organisation.pk:
        raise Application.DoesNotExist
    body = _clean_text(body, MAX_MESSAGE, "補正の内容")
    if not body:
        raise InputRefused("補正してほしい内容を入力してください。")
    spec = form_spec(application.form_version)
    keys = {f.key for f in spec.fields if f.type not in ("notice", "computed")}
    chosen = list(dict.fromkeys(fields))
    if not chosen:
        raise InputRefused("補正してほしい項目を1つ以上選んでください。")
    unknown = [key for key in chosen if key not in keys]
    if unknown:
        raise InputRefused("この申請の様式にない項目が指定されました。")
    with transaction.atomic():
        _move(
            application,
            to_status=S.CORRECTION_REQUESTED,
            actor_kind=STAFF,
            actor=staff_user,
            actor_label="職員",
            reason=body,
            expected_status=expected_status,
            now=now,
        )
        message = ApplicationMessage.objects.create(
            organisation=organisation,
            application=application,
            kind=ApplicationMessage.Kind.CORRECTION,
            from_staff=True,
            author=staff_user,
            body=body,
            fields=chosen,
            created_at=now,
        )
        _notify_applicant(application, "申請の補正をお願いします", now)
    return message


def _revealed(spec: FormSpec, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers with sealed values decrypted, for re-validation only (never shown)."""
    return answers_map(spec, stored, lambda answer: reveal(answer.value))


def correction_answer(
    *,
    applicant: User,
    application: Application,
    changes: Mapping[str, Any],
    note: str = "",
    now: datetime,
) -> ApplicationRevision:
    """The applicant answers a correction request by changing the indicated answers.

    Guarantees: only the fields named in the open request may change (others are refused);
    the whole form is validated again against the application's own form version; a new
    revision is stored with its digest and the earlier ones are kept; new attachment files
    are claimed by the application; the status becomes 補正済み. All in one transaction.
    Raises ``Application.DoesNotExist`` (not the applicant's), :class:`TransitionRefused`,
    and ``madoguchi.applications.services.ValidationFailed``.
    """

    if application.applicant_id is None or application.applicant_id != applicant.pk:
        raise Application.DoesNotExist
    note = _clean_text(note, MAX_MESSAGE, "連絡事項")
    request = open_correction(application)
    if request is None:
        raise TransitionRefused("この申請には、回答が必要な補正のお願いはありません。")
    allowed = set(request.fields)
    extra = [key for key in changes if key not in allowed]
    if extra:
        raise InputRefused("補正をお願いした項目のほかは変更できません。")
    spec = form_spec(application.form_version)
    merged = _revealed(spec, application.answers)
    for key in allowed:
        if key in changes:
            merged[key] = _unmasked(application.answers.get(key), merged.get(key), changes[key])
        elif key in merged and _is_specific(spec, key):
            # 特定個人情報 is asked again rather than kept around in forms.
            merged.pop(key)
    result = validate(
        spec,
        merged,
        today=to_tokyo(now).date(),
        area=organisation_area(application.organisation),
    )
    if result.errors:
        raise ValidationFailed(result.errors)
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        if locked.status != S.CORRECTION_REQUESTED:
            raise StaleStatus("この申請の状態が変わりました。マイページを開き直してください。")
        revision = locked.revision + 1
        claim_attachments(
            spec,
            result.answers,
            procedure=locked.procedure,
            owner=applicant,
            application=locked,
            revision=revision,
        )
        digest = canonical_digest(result.answers)
        stored = protect_answers(spec, result.answers)
        item = ApplicationRevision.objects.create(
            organisation_id=locked.organisation_id,
            application=locked,
            revision=revision,
            answers=stored,
            answers_digest=digest,
            created_at=now,
        )
        locked.answers = stored
        locked.answers_digest = digest
        locked.revision = revision
        locked.save(update_fields=["answers", "answers_digest", "revision", "updated_at"])
        _move(
            locked,
            to_status=S.RESUBMITTED,
            actor_kind=APPLICANT,
            actor=applicant,
            actor_label="申請者",
            reason=note,
            expected_status=S.CORRECTION_REQUESTED,
            now=now,
        )
        if note:
            ApplicationMessage.objects.create(
                organisation_id=locked.organisation_id,
                application=locked,
                kind=ApplicationMessage.Kind.REPLY,
                from_staff=False,
                author=applicant,
                body=note,
                created_at=now,
            )
        application.refresh_from_db()
    return item


def _unmasked(stored: Any, plain: Any, change: Any) -> Any:
    """A bank account sent back with its account number as the correction form showed it
    (masked, ``correction_prefill``) keeps the submitted number; any other change is as sent."""
    sealed = Sealed.from_stored(stored)
    if sealed is None or not sealed.structured or not isinstance(change, Mapping):
        return change
    shown = (sealed.parts or {}).get("account_number")
    sent = change.get("account_number")
    if shown and isinstance(sent, str) and sent.strip() == shown and isinstance(plain, Mapping):
        return {**change, "account_number": plain.get("account_number", "")}
    return change


def _is_specific(spec: FormSpec, key: str) -> bool:
    field = next((f for f in spec.fields if f.key == key), None)
    return field is not None and holds_specific(field)


def application_withdraw(
    *, applicant: User, application: Application, reason: str = "", now: datetime
) -> Application:
    """The applicant withdraws (取下げ) an application that is still being handled.

    Guarantees: allowed only while the status allows it and the procedure does not forbid
    withdrawal online (``settings.allow_withdrawal`` false); recorded as a transition with
    the reason and announced to the applicant by mail. Raises ``Application.DoesNotExist``
    (not the applicant's) and :class:`TransitionRefused`.
    """
    if application.applicant_id is None or application.applicant_id != applicant.pk:
        raise Application.DoesNotExist
    reason = _clean_text(reason, MAX_REASON, "取下げの理由")
    if application.procedure.settings.get("allow_withdrawal") is False:
        raise TransitionRefused(
            "この手続は、オンラインでは取り下げできません。担当窓口にお問い合わせください。"
        )
    with transaction.atomic():
        locked = _move(
            application,
            to_status=S.WITHDRAWN,
            actor_kind=APPLICANT,
            actor=applicant,
            actor_label="申請者",
            reason=reason,
            expected_status=None,
            now=now,
        )
        # Files stay with the application: the organisation keeps the case for its retention.
        _notify_applicant(locked, "申請を取り下げました", now)
    return locked


def messages_mark_read(*, applicant: User, application: Application, now: datetime) -> int:
    """Mark the organisation's messages as read by the applicant; returns how many."""
    if application.applicant_id != applicant.pk:
        raise Application.DoesNotExist
    return ApplicationMessage.objects.filter(
        application=application, from_staff=True, read_at__isnull=True
    ).update(read_at=now)


def notify_applicant(*, application: Application, subject: str, now: datetime) -> None:
    """Queue a mail telling the applicant to look at my page (the mail carries no content).

    Public for the review services (decisions); does nothing when there is no address.
    """
    _notify_applicant(application, subject, now)
