"""Reads of issued documents for the public verification page and API (``/verify/<code>``).

:func:`document_public_get` finds a document by its verification code (normalised first);
:func:`document_public_facts` gives what anyone holding the document may see — the issuer,
the document's own name as printed (罹災証明書, 施設使用許可書, …), the kind, the number, the
issue instant, the status with its reason, the successor's code and the notices a corrected
one replaces, the SHA-256 of the PDF as issued and the register entry — and nothing about
the applicant (no name, no answers). A receipt notice (到達通知) has no 文書番号 of its own
and shows its receipt number as its number: the holder has it printed on the document.
A purged document still answers: its PDF is gone, its number, code, digest and register
entry stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from madoguchi.documents.codes import code_normalise
from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.documents.models import Document
from madoguchi.documents.register import Inclusion, register_inclusion
from madoguchi.tenants.models import Organisation


@dataclass(frozen=True)
class PublicFacts:
    """What ``/verify/<code>`` shows of one document."""

    code: str
    organisation_name: str
    organisation_lg_code: str
    #: The issuer as printed (職名 氏名).
    issuer: str
    kind: str
    kind_label: str
    #: The document's own name as printed (e.g. 罹災証明書), else its kind's label.
    title_label: str
    number: str
    issued_at: datetime
    status: str
    status_label: str
    status_reason: str
    status_changed_at: datetime | None
    #: The code of the corrected document that replaces this one (status superseded).
    successor_code: str | None
    #: The notices this one replaces as their corrected version: (number, code) each.
    replaces: tuple[tuple[str, str], ...]
    sha256: str
    sealed_by: str
    timestamped: bool
    #: The PDF was deleted at the end of its retention period (the record stays).
    purged: bool
    inclusion: Inclusion | None


def document_public_get(code: str) -> Document | None:
    """The document of a verification code as typed or scanned, or None (also for text
    that cannot be a code)."""
    normalised = code_normalise(code[:64] if isinstance(code, str) else "")
    if normalised is None:
        return None
    return (
        Document.objects.select_related("organisation", "superseded_by")
        .filter(code=normalised)
        .first()
    )


def document_public_facts(document: Document) -> PublicFacts:
    """The public facts of ``document`` (see the module text)."""
    organisation: Organisation = document.organisation
    successor = document.superseded_by
    kind_label = (
        str(DocumentKind(document.kind).label) if document.kind in DocumentKind.values else ""
    )
    return PublicFacts(
        code=document.code,
        organisation_name=organisation.name,
        organisation_lg_code=organisation.lg_code,
        issuer=document.issuer,
        kind=document.kind,
        kind_label=kind_label,
        # The title names the receipt number (e.g. 承認通知書（141003-…）): show the name.
        title_label=document.name or kind_label or "発行文書",
        number=document.number,
        issued_at=document.issued_at,
        status=document.status,
        status_label=str(DocumentStatus(document.status).label),
        status_reason=document.status_reason,
        status_changed_at=document.status_changed_at,
        successor_code=successor.code if successor is not None else None,
        replaces=tuple(
            (str(old.number), str(old.code))
            for old in Document.objects.filter(
                organisation=organisation, superseded_by=document
            ).order_by("issued_at", "pk")
        ),
        sha256=document.sha256,
        sealed_by=document.sealed_by,
        timestamped=document.timestamped,
        purged=document.purged_at is not None,
        inclusion=register_inclusion(document),
    )


def documents_of_ids(*, organisation: Organisation, document_ids: list[int]) -> list[Document]:
    """The organisation's documents of ``document_ids`` (others are left out)."""
    return list(
        Document.objects.select_related("superseded_by").filter(
            organisation=organisation, pk__in=document_ids
        )
    )


__all__ = ["PublicFacts", "document_public_facts", "document_public_get", "documents_of_ids"]
