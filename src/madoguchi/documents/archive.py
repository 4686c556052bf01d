"""Archival timestamps (PAdES B-LTA): keeping issued documents verifiable for decades.

A sealed PDF carries a timestamp whose authority's certificate expires one day; before it
does (``Document.archive_due_at``: the certificate's expiry less
``MADOGUCHI_SEAL_ARCHIVE_MARGIN_DAYS``), :func:`documents_archive_tick` appends a document
timestamp over the whole file, with the validation data of the timestamp before it, as an
incremental update: the bytes as issued stay the file's prefix and ``sha256`` (the digest of
the PDF as issued) never changes. The outbox worker runs the tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from django.db import transaction
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.sync import off_loop
from madoguchi.documents.models import Document
from madoguchi.documents.seal import (
    SealError,
    archive_context,
    archive_due,
    seal_timestamper,
    timestamp_certificate,
)
from madoguchi.tenants.models import Organisation

logger = logging.getLogger(__name__)

#: Documents looked at per tick (the next tick continues a backlog).
ARCHIVE_BATCH = 50
#: The document timestamps' field names: 公印-保存用タイムスタンプ-1, -2, …
ARCHIVE_FIELD = "保存用タイムスタンプ"


@dataclass(frozen=True)
class Archived:
    pdf: bytes
    archive_due_at: datetime | None


def archive_timestamp(pdf: bytes, *, organisation: Organisation, now: datetime) -> Archived:
    """``pdf`` with one more document timestamp (and the validation data of the timestamp
    before it), appended as an incremental update. Raises :class:`SealError`."""
    stamper = seal_timestamper(now=now)
    context = archive_context(organisation, now=now)
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    count = len(reader.embedded_timestamp_signatures)
    pdf_stamper = signers.PdfTimeStamper(stamper, field_name=f"{ARCHIVE_FIELD}-{count + 1}")
    try:
        if count:
            # Validates the newest document timestamp, stores its validation data, stamps.
            output = off_loop(
                lambda: pdf_stamper.update_archival_timestamp_chain(reader, context, in_place=False)
            )
        else:
            output = off_loop(
                lambda: pdf_stamper.timestamp_pdf(
                    IncrementalPdfFileWriter(BytesIO(pdf), strict=False),
                    "sha256",
                    validation_context=context,
                )
            )
    except SealError:
        raise
    except Exception as error:
        logger.error("archive timestamp failed: %s", type(error).__name__)
        raise SealError(
            "保存用タイムスタンプを付けられませんでした。タイムスタンプ局の状態を確かめてください。"
        ) from error
    grown = output.getvalue()
    newest = PdfFileReader(BytesIO(grown), strict=False).embedded_timestamp_signatures[-1]
    return Archived(
        pdf=grown, archive_due_at=archive_due(timestamp_certificate(newest.signed_data), now=now)
    )


def document_archive(*, document_id: int, now: datetime) -> bool:
    """Add an archival timestamp to one document if it is still due (its own transaction).

    The timestamp is made outside the transaction (the TSA may be slow); the document is then
    updated only if nobody changed its PDF meanwhile. Guarantees: the PDF as issued stays the
    prefix of the stored PDF, ``sha256`` is unchanged, one ``DOCUMENT_ARCHIVE_TIMESTAMPED``
    audit event per timestamp. Returns whether it was timestamped; raises :class:`SealError`.
    """
    document = (
        Document.objects.select_related("organisation")
        .filter(pk=document_id, archive_due_at__lte=now, purged_at__isnull=True)
        .first()
    )
    if document is None:
        return False
    before = bytes(document.pdf)
    if not before:
        return False
    archived = archive_timestamp(before, organisation=document.organisation, now=now)
    if not archived.pdf.startswith(before):  # pragma: no cover - pyHanko appends
        raise SealError(
            "保存用タイムスタンプが文書の元の内容を変えてしまうため、付けませんでした。"
        )
    with transaction.atomic(durable=True):
        locked = (
            Document.objects.select_for_update()
            .filter(pk=document.pk, archive_due_at__lte=now, purged_at__isnull=True)
            .first()
        )
        if locked is None or bytes(locked.pdf) != before:
            return False  # purged, or archived by another worker meanwhile
        locked.pdf = archived.pdf
        locked.archive_due_at = archived.archive_due_at
        locked.save(update_fields=["pdf", "archive_due_at"])
        audit_record(
            action=AuditAction.DOCUMENT_ARCHIVE_TIMESTAMPED,
            now=now,
            organisation=locked.organisation,
            actor_label="scheduled task",
            target_type="document",
            target_id=locked.pk,
            detail={
                "code": locked.code,
                "length_before": len(before),
                "length_after": len(archived.pdf),
                "next_due": archived.archive_due_at.isoformat()
                if archived.archive_due_at
                else None,
            },
        )
    return True


def documents_archive_tick(*, now: datetime, limit: int = ARCHIVE_BATCH) -> int:
    """Add an archival document timestamp (B-LTA) to every document whose ``archive_due_at``
    has come (purged documents are skipped), one transaction per document; returns how many
    were timestamped. A document that fails (TSA away) stays due and is logged: the next tick
    tries again; it never stops the others."""
    due = list(
        Document.objects.filter(archive_due_at__lte=now, purged_at__isnull=True)
        .order_by("archive_due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for document_id in due:
        try:
            done += document_archive(document_id=document_id, now=now)
        except SealError:
            logger.warning("document %s: archival timestamp postponed", document_id)
    return done
