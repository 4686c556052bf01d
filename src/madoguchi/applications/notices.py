"""Corrected decision notices (訂正通知): replacing an issued 決定通知書 with a corrected one.

A notice with a mistake in it (a wrong reason, a typo in a condition) is not edited: it was
issued, sealed and entered in the register as it is. Instead staff issue a **corrected
notice** — a new document with its own number and verification code, made by the same
builder as the decision's notice and issued through
:func:`madoguchi.documents.issuance.document_issue` — and the old one is marked as replaced
by it (``status=superseded``, ``superseded_by``), so ``/verify/<old code>`` says
訂正された文書に差し替えられています and links the new one. The applicant is told the way a
decision tells them (:func:`madoguchi.applications.review.notice_deliver`: the issued
document, a message on my page, a mail notice, the audit event).

Who may: the rule of :func:`madoguchi.documents.services.staff_may_change_documents`
(団体管理者, or staff with 決裁権限), of the application's own organisation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.constants import Decision, IssuedDocumentKind
from madoguchi.applications.documents import certificate_pdf_build
from madoguchi.applications.models import Application, ApplicationMessage, IssuedDocument
from madoguchi.applications.review import (
    damage_level_clean,
    decision_clean,
    decision_pdf_build,
    notice_deliver,
    numbering_for,
)
from madoguchi.applications.workflow import MAX_MESSAGE, notify_applicant
from madoguchi.core.time import to_tokyo
from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.documents.issuance import Stamp, document_issue
from madoguchi.documents.models import Document
from madoguchi.documents.services import (
    DocumentRefused,
    document_change_require,
    document_supersede,
    status_reason_clean,
)
from madoguchi.documents.status import DocumentStatusError, document_status_set
from madoguchi.forms.japanese import wareki
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation

OUTCOME_OF_KIND = {
    IssuedDocumentKind.DECISION_APPROVE: Decision.APPROVE,
    IssuedDocumentKind.DECISION_REJECT: Decision.REJECT,
}


def correction_source_prefix(application: Application) -> str:
    """The ``source_key`` prefix of an application's corrected notices (…:correction:<n>)."""
    return f"application:{application.pk}:decision:correction:"


def decision_notice_get(
    *, organisation: Organisation, application: Application, document_id: object
) -> IssuedDocument:
    """The application's issued decision notice whose register document is ``document_id``;
    ``IssuedDocument.DoesNotExist`` for anything else (another organisation's, another
    application's, not a decision notice, not a number)."""
    try:
        pk = int(str(document_id))
    except ValueError:
        raise IssuedDocument.DoesNotExist from None
    if not 1 <= pk < 2**63 or application.organisation_id != organisation.pk:
        raise IssuedDocument.DoesNotExist
    return IssuedDocument.objects.select_related("record").get(
        organisation=organisation,
        application_id=application.pk,
        record_id=pk,
        kind__in=list(OUTCOME_OF_KIND),
    )


def decision_reason_current(application: Application) -> str:
    """The reason (備考) of the application's decision as staff last wrote it — what the
    correction form starts from, so that staff change it rather than type it again."""
    transition = (
        application.transitions.filter(to_status__in=[S.APPROVED, S.REJECTED])
        .order_by("-created_at", "-pk")
        .first()
    )
    return transition.reason if transition is not None else ""


def corrected_name(old: Document) -> str:
    """How a corrected notice names the one it replaces: 「令和8年12月4日付け横こ第12号」."""
    day = to_tokyo(old.issued_at).date()
    return f"{wareki(day)}付け{old.number}" if old.number else f"{wareki(day)}付け"


def correction_text(*, old: Document, reason_text: str, correction_note: str) -> str:
    """What the corrected notice says in its reason box: the corrected reason, then which
    notice it replaces and what was corrected."""
    day = to_tokyo(old.issued_at).date()
    replaced = f"{wareki(day)}付け{old.number or 'の通知書'}"
    lines = [reason_text] if reason_text else []
    lines.append(
        f"【訂正】この通知書は、{replaced}を訂正し、差し替えるものです。"
        f"訂正の内容: {correction_note}"
    )
    return "\n\n".join(lines)


def _replacement_issue(
    *,
    organisation: Organisation,
    staff: Staff,
    application: Application,
    old: Document,
    kind: IssuedDocumentKind,
    label: str,
    noun: str,
    prefix: str,
    build: Callable[[Stamp], bytes],
    note: str,
    subject: str,
    now: datetime,
) -> IssuedDocument:
    """The one transaction of a correction, for notices and certificates alike: lock the old
    document (still valid, or refused), issue its replacement (``<prefix><n>``, same name,
    the application's numbering), mark the old one superseded with ``note``, and hand the
    new one to the applicant (:func:`notice_deliver`)."""
    title = f"{label}（訂正）（{application.receipt_number}）"
    with transaction.atomic(durable=True):
        locked = Document.objects.select_for_update().get(organisation=organisation, pk=old.pk)
        if locked.status != DocumentStatus.VALID:
            raise DocumentRefused(
                f"この{noun}は、ほかの職員がすでに取り消したか差し替えました。"
                "画面を開き直してください。"
            )
        serial = (
            Document.objects.filter(
                organisation=organisation, source_key__startswith=prefix
            ).count()
            + 1
        )
        record = document_issue(
            organisation=organisation,
            kind=DocumentKind(kind.value),
            title=title,
            name=old.name,
            source_key=f"{prefix}{serial}",
            procedure_key=f"procedure:{application.procedure_id}",
            build=build,
            now=now,
            **numbering_for(application),
        )
        document_supersede(
            organisation=organisation,
            staff_user=staff.user,
            document_id=old.pk,
            successor=record,
            reason=note,
            now=now,
        )
        where = "マイページ" if application.applicant_id else "メールでお知らせしたページ"
        body = (
            f"{old.number or '以前'}の{label}を訂正しました。訂正した{label}（PDF）を"
            f"{where}で確認してください。以前の{noun}は、訂正した{noun}に差し替えられました。"
            f"\n\n訂正の内容: {note}"
        )
        return notice_deliver(
            organisation=organisation,
            application=application,
            actor=staff.user,
            record=record,
            kind=kind,
            title=title,
            body=body,
            subject=subject,
            now=now,
        )


def decision_notice_correct(
    *,
    organisation: Organisation,
    staff: Staff,
    application: Application,
    document_id: int,
    reason_text: str,
    correction_note: str,
    now: datetime,
) -> IssuedDocument:
    """Issue a corrected 決定通知書 (訂正通知) that replaces the valid notice ``document_id``
    of ``application``.

    ``reason_text`` is the decision's reason (備考 for an approval) as corrected;
    ``correction_note`` says what was corrected and why (shown on the new notice, on the
    verification page of the old one, and in the applicant's message).

    Guarantees, in one transaction of its own: the old notice is locked and must still be
    valid (two staff correcting at once make one correction); a new notice of the same
    outcome is issued with a new number and code (``source_key``
    ``application:<id>:decision:correction:<n>``); the old one becomes superseded by it with
    the note (audit ``DOCUMENT_SUPERSEDED``); the applicant gets the issued document, a
    message and a mail notice (audit ``APPLICATION_DOCUMENT_ISSUED``). The application's
    status does not change. Raises ``DocumentNotAllowed`` (403), ``DocumentRefused`` or
    ``ReviewError`` (what was typed; the notice is no longer valid),
    ``IssuedDocument.DoesNotExist`` (another organisation's, another application's: 404),
    ``SealError`` (nothing issued).
    """
    if staff.organisation_id != organisation.pk or application.organisation_id != organisation.pk:
        raise IssuedDocument.DoesNotExist
    issued = decision_notice_get(
        organisation=organisation, application=application, document_id=document_id
    )
    document_change_require(organisation=organisation, staff_user=staff.user)
    outcome = OUTCOME_OF_KIND[IssuedDocumentKind(issued.kind)]
    decision, reason = decision_clean(outcome=outcome, reason=reason_text)
    note = status_reason_clean(correction_note, what="訂正の内容")
    old = issued.record
    if old.status != DocumentStatus.VALID:
        raise DocumentRefused("この通知書は有効ではないため、訂正して差し替えることはできません。")
    text = correction_text(old=old, reason_text=reason, correction_note=note)
    build = decision_pdf_build(
        organisation=organisation,
        application=application,
        outcome=decision,
        reason=text,
        now=now,
        corrects=corrected_name(old),
    )
    kind = IssuedDocumentKind(issued.kind)
    return _replacement_issue(
        organisation=organisation,
        staff=staff,
        application=application,
        old=old,
        kind=kind,
        label=kind.label,
        noun="通知書",
        prefix=correction_source_prefix(application),
        build=build,
        note=note,
        subject="決定通知書の訂正をお知らせします",
        now=now,
    )


def application_document_withdraw(
    *,
    organisation: Organisation,
    staff: Staff,
    application: Application,
    issued_id: object,
    reason: str,
    now: datetime,
) -> IssuedDocument:
    """Withdraw (取り消す) a document issued for ``application`` — a decision notice, a
    corrected notice, a 罹災証明書 — and tell the applicant, as a decision does. The one way to
    withdraw an application's document (:func:`madoguchi.documents.services.document_withdraw`
    refuses them).

    ``issued_id`` is the :class:`IssuedDocument` id within the application (as the console's
    links name it); ``reason`` is shown on ``/verify/`` and in the applicant's message.

    Guarantees, in one transaction of its own: the document is locked and must still be
    valid (two staff withdrawing at once withdraw once); its status becomes withdrawn with
    the reason through :func:`madoguchi.documents.status.document_status_set` (audit
    ``DOCUMENT_WITHDRAWN``, ids only); a message on the applicant's my page says which
    document was withdrawn, when and why, and a mail notice (no content) is queued. The
    application's status does not change. Raises ``DocumentNotAllowed`` (403),
    ``DocumentRefused`` (no reason, too long, no longer valid),
    ``IssuedDocument.DoesNotExist`` (another organisation's or application's: 404).
    """
    if staff.organisation_id != organisation.pk or application.organisation_id != organisation.pk:
        raise IssuedDocument.DoesNotExist
    try:
        pk = int(str(issued_id))
    except ValueError:
        raise IssuedDocument.DoesNotExist from None
    if not 1 <= pk < 2**63:
        raise IssuedDocument.DoesNotExist
    issued = IssuedDocument.objects.select_related("record").get(
        organisation=organisation, application_id=application.pk, pk=pk
    )
    document_change_require(organisation=organisation, staff_user=staff.user)
    cleaned = status_reason_clean(reason)
    with transaction.atomic(durable=True):
        try:
            document_status_set(
                organisation=organisation,
                document=issued.record,
                status=DocumentStatus.WITHDRAWN,
                reason=cleaned,
                now=now,
                actor=staff.user,
                actor_label="職員",
                detail={"application": application.pk, "issued": issued.pk},
            )
        except DocumentStatusError as error:
            raise DocumentRefused(str(error)) from None
        day = to_tokyo(now).date()
        name = issued.record.number or issued.title
        where = "マイページ" if application.applicant_id else "メールでお知らせしたページ"
        body = (
            f"{wareki(day)}、{issued.get_kind_display()}（{name}）を取り消しました。"
            f"この文書は効力を失いました。{where}では、取り消されたことを示して残しています。"
            f"\n\n取消しの理由: {cleaned}"
        )
        ApplicationMessage.objects.create(
            organisation=organisation,
            application=application,
            kind=ApplicationMessage.Kind.DECISION,
            from_staff=True,
            author=staff.user,
            body=body[:MAX_MESSAGE],
            created_at=now,
        )
        notify_applicant(
            application=application, subject="交付した文書の取消しをお知らせします", now=now
        )
    return issued


def certificate_correct(
    *,
    organisation: Organisation,
    staff: Staff,
    application: Application,
    document_id: int,
    damage_level: str,
    note_text: str,
    correction_note: str,
    now: datetime,
) -> IssuedDocument:
    """Issue a corrected 罹災証明書 that replaces the valid certificate ``document_id`` (its
    register document) of ``application`` — e.g. a wrong 被害の程度.

    ``damage_level`` is the level as corrected (one of
    :data:`madoguchi.documents.certificate.DAMAGE_LEVELS`, required), ``note_text`` the
    備考 as corrected, ``correction_note`` what was corrected and why.

    Guarantees, as :func:`decision_notice_correct`: in one transaction of its own, the old
    certificate is locked and must still be valid; a new one is issued with a new number
    and code (``application:<id>:certificate:correction:<n>``), says 「（訂正）」 and names the
    one it replaces; the old one becomes superseded by it; the applicant gets the document,
    a message and a mail notice. Raises ``DocumentNotAllowed``, ``DocumentRefused`` /
    ``ReviewError`` (input; no longer valid), ``IssuedDocument.DoesNotExist`` (404),
    ``SealError``."""
    if staff.organisation_id != organisation.pk or application.organisation_id != organisation.pk:
        raise IssuedDocument.DoesNotExist
    try:
        pk = int(str(document_id))
    except ValueError:
        raise IssuedDocument.DoesNotExist from None
    if not 1 <= pk < 2**63:
        raise IssuedDocument.DoesNotExist
    issued = IssuedDocument.objects.select_related("record").get(
        organisation=organisation,
        application_id=application.pk,
        record_id=pk,
        kind=IssuedDocumentKind.CERTIFICATE,
    )
    document_change_require(organisation=organisation, staff_user=staff.user)
    level = damage_level_clean(
        application=application, outcome=Decision.APPROVE, damage_level=damage_level
    )
    _, note_clean = decision_clean(outcome=Decision.APPROVE, reason=note_text)
    note = status_reason_clean(correction_note, what="訂正の内容")
    old = issued.record
    if old.status != DocumentStatus.VALID:
        raise DocumentRefused("この証明書は有効ではないため、訂正して差し替えることはできません。")
    build = certificate_pdf_build(
        organisation=organisation,
        application=application,
        reason="\n\n".join(t for t in (note_clean, f"【訂正】訂正の内容: {note}") if t),
        damage_level=level,
        now=now,
        corrects=corrected_name(old),
    )
    if build is None:  # the procedure no longer issues certificates
        raise DocumentRefused("この手続は罹災証明書を交付しないため、訂正できません。")
    return _replacement_issue(
        organisation=organisation,
        staff=staff,
        application=application,
        old=old,
        kind=IssuedDocumentKind.CERTIFICATE,
        label="罹災証明書",
        noun="証明書",
        prefix=f"application:{application.pk}:certificate:correction:",
        build=build,
        note=note,
        subject="罹災証明書の訂正をお知らせします",
        now=now,
    )


__all__ = [
    "application_document_withdraw",
    "certificate_correct",
    "correction_source_prefix",
    "correction_text",
    "decision_notice_correct",
    "decision_notice_get",
    "decision_reason_current",
]
