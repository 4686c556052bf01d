"""Publishing a procedure (公開), closing it (受付終了) or taking it back to 準備中: the one
write path for a procedure's status.

It lives here, above ``catalog``, because leaving 準備中 ends the operational test (運用テスト):
in the same transaction every test application of the procedure goes with all its rows
(revisions, attachments, signatures, messages, notes, transitions, issued documents,
duplicate claims), the testers' drafts and unclaimed uploads go too, and the purge is
recorded by receipt numbers and counts only. Test applications are never counted, so nothing
moves into the statistics' tally: an operational test leaves no trace in the figures.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import ProtectedError

from madoguchi.applications.models import Application, Attachment, Draft
from madoguchi.applications.retention import delete_attachment_files
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.status import procedure_status_store
from madoguchi.core.time import now as clock
from madoguchi.documents.constants import DocumentStatus
from madoguchi.documents.models import Document
from madoguchi.documents.register import documents_purge_by_source_prefix
from madoguchi.documents.status import document_status_set
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

logger = logging.getLogger(__name__)


class ProcedureStatusError(ValueError):
    """The status change was refused; ``str()`` says why, in Japanese. Nothing changed."""


def procedure_set_status(
    *,
    organisation: Organisation,
    procedure: Procedure,
    status: ProcedureStatus,
    actor: User | None = None,
    now: datetime | None = None,
    expected: ProcedureStatus | str | None = None,
) -> Procedure:
    """Publish (公開), close (受付終了) or take back to 準備中 a procedure of ``organisation``.

    Guarantees, in one transaction with the procedure row locked: the new status; when the
    procedure leaves 準備中, the end of its operational test — all its test applications
    deleted with their rows, the drafts and unclaimed uploads made during the test deleted,
    its testers removed — and the audit events ``procedure.status_set`` and (when there was
    a test) ``procedure.test_purged`` with the receipt numbers and counts, no personal data.
    The purged files are deleted after the commit. Real applications are never touched.

    Setting the status it already has changes and records nothing. ``expected`` is the
    status the caller saw: when the procedure has meanwhile moved on (a second click on
    「公開する」, another admin), :class:`ProcedureStatusError` is raised and nothing changes.
    Raises ``Procedure.DoesNotExist`` for another organisation's procedure.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    status = ProcedureStatus(status)
    when = now or clock()
    attachment_ids: list[uuid.UUID] = []
    with transaction.atomic(durable=True):
        locked = Procedure.objects.select_for_update().get(
            pk=procedure.pk, organisation=organisation
        )
        before = ProcedureStatus(locked.status)
        if expected is not None and str(expected) != before.value:
            raise ProcedureStatusError(
                f"この手続は既に「{before.label}」になっています。画面を開き直して確かめてください。"
            )
        if before == status:
            procedure.status = before
            return procedure
        purge = _purge_test(organisation, locked, when) if before == ProcedureStatus.DRAFT else None
        testers = procedure_status_store(procedure=locked, status=status)
        label = actor.email if actor is not None else "システム"
        audit_record(
            action=AuditAction.PROCEDURE_STATUS_SET,
            now=when,
            organisation=organisation,
            target_type="procedure",
            target_id=procedure.pk,
            detail={"before": before.value, "after": status.value},
            actor=actor,
            actor_label=label,
        )
        attachment_ids = purge.attachment_ids if purge is not None else []
        if purge is not None and (purge.receipt_numbers or purge.attachment_ids or testers):
            audit_record(
                action=AuditAction.PROCEDURE_TEST_PURGED,
                now=when,
                organisation=organisation,
                target_type="procedure",
                target_id=procedure.pk,
                reason=f"手続の「{status.label}」への変更による運用テストの終了",
                detail={
                    "applications": len(purge.receipt_numbers),
                    "receipt_numbers": purge.receipt_numbers,
                    "attachments": len(purge.attachment_ids),
                    "drafts": purge.drafts,
                    "testers": testers,
                },
                actor=actor,
                actor_label=label,
            )
    if attachment_ids:
        delete_attachment_files(attachment_ids)
    procedure.status = status
    procedure.test_started_at = locked.test_started_at
    return procedure


@dataclass(frozen=True)
class _Purged:
    receipt_numbers: list[str]
    attachment_ids: list[uuid.UUID]
    drafts: int


#: Why an operational-test application's documents are withdrawn (shown on /verify/).
TEST_WITHDRAW_REASON = "運用テストの文書です"


def _withdraw_test_documents(
    organisation: Organisation, application_ids: list[int], now: datetime
) -> None:
    """Withdraw (reason 「運用テストの文書です」) and purge every document issued for the
    given test applications — whatever their source (notices, corrected notices,
    certificates) — so that none lives on after its application (a step)."""
    for pk in application_ids:
        prefix = f"application:{pk}:"
        for document in Document.objects.filter(
            organisation=organisation, source_key__startswith=prefix, status=DocumentStatus.VALID
        ).defer("pdf"):
            document_status_set(
                organisation=organisation,
                document=document,
                status=DocumentStatus.WITHDRAWN,
                reason=TEST_WITHDRAW_REASON,
                now=now,
                actor_label="運用テストの終了",
                detail={"application": pk},
            )
        documents_purge_by_source_prefix(organisation=organisation, prefix=prefix, now=now)


def _purge_test(organisation: Organisation, procedure: Procedure, now: datetime) -> _Purged:
    """Delete the test applications of ``procedure`` (inside the caller's transaction), after
    withdrawing and purging their documents."""
    tests = Application.objects.filter(
        organisation=organisation, procedure=procedure, is_test=True
    ).order_by("arrived_at", "pk")
    receipts = list(tests.values_list("receipt_number", flat=True))
    # What the testers left unsent: drafts and uploads made since the test started (a draft
    # procedure is reached by testers only; older rows are residents' from before).
    since = procedure.test_started_at
    unclaimed = (
        Attachment.objects.filter(
            organisation=organisation,
            procedure=procedure,
            application__isnull=True,
            created_at__gte=since,
        )
        if since is not None
        else Attachment.objects.none()
    )
    attachment_ids = list(
        Attachment.objects.filter(
            organisation=organisation, application__in=tests.values("pk")
        ).values_list("pk", flat=True)
    ) + list(unclaimed.values_list("pk", flat=True))
    drafts = 0
    if since is not None:
        _, deleted = Draft.objects.filter(
            organisation=organisation, procedure=procedure, created_at__gte=since
        ).delete()
        drafts = deleted.get(Draft._meta.label, 0)
    unclaimed.delete()
    _withdraw_test_documents(organisation, list(tests.values_list("pk", flat=True)), now)
    try:
        # Cascades to revisions, signatures, attachments, messages, notes, transitions,
        # issued documents and duplicate claims.
        tests.delete()
    except ProtectedError as error:
        logger.error("publishing: a test application of %s is protected", procedure.pk)
        raise ProcedureStatusError(
            "運用テストの申請を削除できなかったため、状態を変えませんでした。"
            "運用者に連絡してください。"
        ) from error
    return _Purged(receipt_numbers=receipts, attachment_ids=attachment_ids, drafts=drafts)
