"""A document's status after issue (発行文書の状態): 有効 → 取消し, or 有効 → 訂正により差替え.

An issued document is never edited and never deleted: what changes is whether it still stands,
which ``/verify/`` shows to anyone who holds a copy. :func:`document_status_set` is the ONE
step that changes it, for every reason there is:

- staff withdraw a document (取消し, :data:`DocumentStatus.WITHDRAWN`) with a reason they give
  (the staff-facing service in :mod:`madoguchi.documents.services` calls this step);
- the act the document stood for ends, e.g. a booking is cancelled and its 使用許可書 lapses
  (:mod:`madoguchi.reservations.permits`);
- a corrected document replaces it (差替え, :data:`DocumentStatus.SUPERSEDED`): the caller
  issues the new one first (:func:`madoguchi.documents.issuance.document_issue`) and names it
  as ``superseded_by``.

It is a *step*: it joins the caller's transaction (which it requires), so the status changes
exactly when the act that changed it commits, and never checks who may act (the calling
service does). A change is one way: only a valid document changes, and only to withdrawn or
superseded; a document already withdrawn or superseded is refused, so a second withdrawal
never overwrites the first reason, and nothing can make a withdrawn document valid again.
Each change is audited (``document.withdrawn`` / ``document.superseded``) with ids only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from django.db import transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.text import visible_text
from madoguchi.documents.constants import DocumentStatus
from madoguchi.documents.models import Document
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

#: The longest reason (the column's length): a longer one is refused, never cut.
STATUS_REASON_MAX: Final = 400

_AUDIT: Final = {
    DocumentStatus.WITHDRAWN: AuditAction.DOCUMENT_WITHDRAWN,
    DocumentStatus.SUPERSEDED: AuditAction.DOCUMENT_SUPERSEDED,
}


class DocumentStatusError(ValueError):
    """The status change was refused; ``str()`` says why in Japanese and what to do instead.
    Nothing was changed. ``code``: ``not_valid`` (already withdrawn or superseded),
    ``status`` (not a status a document can move to), ``successor`` (a missing or unfit
    ``superseded_by``), ``reason`` (empty or too long)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def status_reason_check(reason: object, *, what: str = "理由") -> str:
    """The reason of a status change as stored and shown on ``/verify/``: what people see
    of it (:func:`madoguchi.core.text.visible_text`), required, at most
    :data:`STATUS_REASON_MAX` characters — a longer one is refused, never cut. The one
    validator of these reasons (the services call it too). Raises
    :class:`DocumentStatusError` (``code="reason"``)."""
    if not isinstance(reason, str):
        raise DocumentStatusError(f"{what}が正しくありません。", code="reason")
    cleaned = visible_text(reason)
    if not cleaned:
        raise DocumentStatusError(
            f"{what}を入力してください（検証ページで誰でも読めます）。", code="reason"
        )
    if len(cleaned) > STATUS_REASON_MAX:
        raise DocumentStatusError(
            f"{what}は{STATUS_REASON_MAX}文字以内で入力してください（現在{len(cleaned):,}文字）。",
            code="reason",
        )
    return cleaned


def document_status_set(
    *,
    organisation: Organisation,
    document: Document,
    status: DocumentStatus | str,
    reason: str,
    now: datetime,
    superseded_by: Document | None = None,
    actor: User | None = None,
    actor_label: str = "",
    detail: Mapping[str, int | str] | None = None,
) -> Document:
    """Withdraw ``document`` or mark it superseded by ``superseded_by`` (a step: joins the
    caller's transaction, which it requires; checks no role).

    Guarantees: the document is re-read under a row lock and changed only while it is still
    valid; ``status``, ``status_reason`` (``reason``, shown on ``/verify/``: say why in
    Japanese, without personal data), ``status_changed_at`` (``now``) and, for
    :data:`DocumentStatus.SUPERSEDED`, ``superseded_by`` are stored together; one audit event
    (``document.withdrawn`` or ``document.superseded``) records the ids of the document, its
    successor and whatever ids the caller adds in ``detail`` (e.g. ``{"booking": 12}``),
    never names. ``document`` (the instance given) is updated in place and returned.

    Raises :class:`DocumentStatusError` — ``not_valid`` for a document no longer valid,
    ``status`` for a status other than withdrawn or superseded, ``successor`` when superseding
    without a successor, with itself, with another organisation's or another kind's document,
    or with a successor given to a withdrawal; ``reason`` for an empty reason or one longer
    than :data:`STATUS_REASON_MAX` characters — and ``Document.DoesNotExist`` for another
    organisation's document. Nothing is changed when it raises.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document_status_set must run inside the caller's transaction")
    try:
        target = DocumentStatus(status)
    except ValueError:
        raise DocumentStatusError(
            "文書の状態は「取消し」か「差替え」にしか変えられません。", code="status"
        ) from None
    if target not in _AUDIT:
        raise DocumentStatusError(
            "文書の状態は「取消し」か「差替え」にしか変えられません。"
            "取り消した文書を有効に戻すことはできません（新しい文書を発行してください）。",
            code="status",
        )
    reason = status_reason_check(reason)
    if target == DocumentStatus.SUPERSEDED:
        if (
            superseded_by is None
            or superseded_by.pk is None
            or superseded_by.pk == document.pk
            or superseded_by.organisation_id != organisation.pk
            or superseded_by.kind != document.kind
            or superseded_by.status != DocumentStatus.VALID
        ):
            raise DocumentStatusError(
                "差し替える文書には、同じ種類の有効な新しい文書を指定してください。",
                code="successor",
            )
    elif superseded_by is not None:
        raise DocumentStatusError(
            "取り消す文書には差替え先を指定できません。訂正した文書に差し替える場合は"
            "「差替え」を選んでください。",
            code="successor",
        )
    locked = (
        Document.objects.select_for_update()
        .defer("pdf")
        .get(pk=document.pk, organisation=organisation)
    )
    if locked.status != DocumentStatus.VALID:
        raise DocumentStatusError(
            "この文書はすでに取り消されています。"
            if locked.status == DocumentStatus.WITHDRAWN
            else "この文書はすでに訂正された文書に差し替えられています。",
            code="not_valid",
        )
    locked.status = target
    locked.status_reason = reason
    locked.status_changed_at = now
    locked.superseded_by = superseded_by if target == DocumentStatus.SUPERSEDED else None
    locked.save(update_fields=["status", "status_reason", "status_changed_at", "superseded_by"])
    audit_record(
        action=_AUDIT[target],
        now=now,
        organisation=organisation,
        actor=actor,
        actor_label=actor_label,
        target_type="document",
        target_id=locked.pk,
        reason=reason,
        detail={
            **dict(detail or {}),
            "document": locked.pk,
            "kind": locked.kind,
            "sha256": locked.sha256,
            **({"superseded_by": superseded_by.pk} if superseded_by is not None else {}),
        },
    )
    document.status = locked.status
    document.status_reason = locked.status_reason
    document.status_changed_at = locked.status_changed_at
    document.superseded_by = locked.superseded_by
    return document
