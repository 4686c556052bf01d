"""Public services of issued documents: withdrawing one (取消し), and the step that marks one
superseded by a corrected document (訂正による差替え).

Who may: active staff of the document's organisation with the right to decide — the
団体管理者, or staff with 決裁権限 (sign-off rights) whose role acts (not 閲覧のみ). Withdrawing
or replacing an issued disposition notice undoes or changes a decision, so it takes at least
the rights a decision with sign-off takes. Another organisation's document does not exist
for the caller (``Document.DoesNotExist``: 404).

The reason is shown on the public verification page (``/verify/<code>``) to anyone holding
the document, so it must state the ground, not personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from django.core.exceptions import PermissionDenied
from django.db import transaction

from madoguchi.documents.constants import DocumentStatus
from madoguchi.documents.models import Document
from madoguchi.documents.status import (
    STATUS_REASON_MAX,
    DocumentStatusError,
    document_status_set,
    status_reason_check,
)
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.tenants.models import Organisation

#: The longest reason (it is stored in ``Document.status_reason``); the same as the step's.
MAX_STATUS_REASON: Final = STATUS_REASON_MAX


#: The ``source_key`` prefix of documents issued for applications (withdrawn there).
APPLICATION_SOURCE: Final = "application:"


class DocumentNotAllowed(PermissionDenied):
    """The staff member may not withdraw or replace documents (403); the message says why."""


class DocumentRefused(ValueError):
    """What was asked cannot be done to this document; the message says why, in Japanese."""


def staff_may_change_documents(staff: Staff | None) -> bool:
    """True for active staff that may withdraw or replace their organisation's documents
    (see the module text)."""
    if staff is None or not staff.active or staff.role == StaffRole.VIEWER:
        return False
    return staff.role == StaffRole.ADMIN or bool(staff.may_sign_off)


def document_change_require(*, organisation: Organisation, staff_user: User) -> Staff:
    """The acting staff record; raises :class:`DocumentNotAllowed` unless they may."""
    staff = (
        Staff.objects.filter(user=staff_user, organisation=organisation, active=True)
        .select_related("organisation")
        .first()
    )
    if not staff_may_change_documents(staff):
        raise DocumentNotAllowed(
            "発行した文書の取消しと差替えは、団体管理者か決裁権限のある職員だけができます。"
        )
    assert staff is not None
    return staff


def status_reason_clean(reason: object, *, what: str = "理由") -> str:
    """The cleaned reason (:func:`madoguchi.documents.status.status_reason_check`, the one
    validator); raises :class:`DocumentRefused` when empty, too long or not text."""
    try:
        return status_reason_check(reason, what=what)
    except DocumentStatusError as error:
        raise DocumentRefused(str(error)) from None


def document_get(*, organisation: Organisation, document_id: object) -> Document:
    """The organisation's document of ``document_id``; ``Document.DoesNotExist`` otherwise
    (also for an id that is not a positive number)."""
    try:
        pk = int(str(document_id))
    except ValueError:
        raise Document.DoesNotExist from None
    if not 1 <= pk < 2**63:
        raise Document.DoesNotExist
    return Document.objects.select_related("superseded_by").get(organisation=organisation, pk=pk)


def document_withdraw(
    *,
    organisation: Organisation,
    staff_user: User,
    document_id: int,
    reason: str,
    now: datetime,
) -> Document:
    """Withdraw (取り消す) a valid document of ``organisation``, with a reason.

    Guarantees, in one transaction of its own: only a document that is still valid changes
    (under a row lock: two staff withdrawing at once withdraw once); its status becomes
    withdrawn with the cleaned reason and ``now``; an audit event
    (``DOCUMENT_WITHDRAWN``) records who, which document and its digest. The register is
    not touched (its entries are the documents as issued). A document issued for an
    application (``source_key`` ``application:…``) is refused: it is withdrawn by
    ``madoguchi.applications.notices.application_document_withdraw``, which tells the
    applicant too — one way to withdraw each document. Raises
    :class:`DocumentNotAllowed`, :class:`DocumentRefused` (no reason, too long, not valid any
    more), ``Document.DoesNotExist`` (another organisation's or unknown).
    """
    cleaned = status_reason_clean(reason)
    document_change_require(organisation=organisation, staff_user=staff_user)
    found = document_get(organisation=organisation, document_id=document_id)
    if found.source_key.startswith(APPLICATION_SOURCE):
        raise DocumentRefused(
            "申請に交付した文書は、その申請の画面から取り消してください（申請者にも知らせます）。"
        )
    with transaction.atomic(durable=True):
        try:
            return document_status_set(
                organisation=organisation,
                document=document_get(organisation=organisation, document_id=document_id),
                status=DocumentStatus.WITHDRAWN,
                reason=cleaned,
                now=now,
                actor=staff_user,
                actor_label="職員",
            )
        except DocumentStatusError as error:
            raise DocumentRefused(str(error)) from None


def document_supersede(
    *,
    organisation: Organisation,
    staff_user: User,
    document_id: int,
    successor: Document,
    reason: str,
    now: datetime,
) -> Document:
    """Mark a valid document as replaced by ``successor`` (a step: joins the caller's
    transaction, which issues the successor). Locks the document, so it is replaced once;
    records the reason and an audit event (``DOCUMENT_SUPERSEDED``). A reason longer than
    the column is refused, never cut. Raises :class:`DocumentRefused` (no reason or too
    long, not valid any more, or the successor is of another organisation),
    ``Document.DoesNotExist``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document_supersede must run inside the issuing transaction")
    if successor.organisation_id != organisation.pk or successor.pk == document_id:
        raise DocumentRefused("差し替える文書が正しくありません。")
    try:
        return document_status_set(
            organisation=organisation,
            document=document_get(organisation=organisation, document_id=document_id),
            status=DocumentStatus.SUPERSEDED,
            reason=reason,
            now=now,
            superseded_by=successor,
            actor=staff_user,
            actor_label="職員",
        )
    except DocumentStatusError as error:
        raise DocumentRefused(str(error)) from None


__all__ = [
    "MAX_STATUS_REASON",
    "DocumentNotAllowed",
    "DocumentRefused",
    "document_change_require",
    "document_get",
    "document_supersede",
    "document_withdraw",
    "staff_may_change_documents",
    "status_reason_clean",
]
