"""The append-only register of issued documents (発行文書の台帳), one hash chain per organisation.

Entry *n* stores the document's kind, its number as printed, its verification code, the SHA-256
of the PDF as issued, the issue instant and the hash of entry *n−1* (:data:`GENESIS` for the
first), and its own hash over all of these (:func:`entry_hash`). Changing any stored field, deleting or inserting an
entry changes every later hash, so :func:`madoguchi.documents.audit.register_audit` finds it;
the daily published heads (:class:`RegisterHead`) pin the chain for anyone who kept one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import transaction

from madoguchi.documents.models import Document, Register, RegisterEntry, RegisterHead
from madoguchi.tenants.models import Organisation

#: The "previous hash" of an organisation's first entry.
GENESIS = "0" * 64

#: The first line of every entry's hashed text: names the formula of :func:`entry_hash`
#: (version 2 added the document's kind and number, which /verify/ shows).
HASH_VERSION = "madoguchi-register-2"


def entry_hash(
    *,
    lg_code: str,
    seq: int,
    kind: str,
    number: str,
    code: str,
    sha256: str,
    issued_at: datetime,
    prev_hash: str,
) -> str:
    """The hash of one register entry: SHA-256 over the UTF-8 text of its fields, one per line,
    in this order (the same text anyone can recompute from the published API):
    :data:`HASH_VERSION`, organisation code, seq, kind, SHA-256 of the number as printed
    (UTF-8; of the empty text for a document without one), SHA-256 of the verification code,
    SHA-256 of the PDF, issue instant (UTC, microseconds, ``Z``), previous entry's hash. The
    number and the verification code enter as their SHA-256, so the published entries reveal
    neither; a holder of the document recomputes both."""
    text = "\n".join(
        (
            HASH_VERSION,
            lg_code,
            str(seq),
            kind,
            hashlib.sha256(number.encode("utf-8")).hexdigest(),
            hashlib.sha256(code.encode("ascii")).hexdigest(),
            sha256,
            issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            prev_hash,
        )
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def register_append(*, organisation: Organisation, document: Document) -> RegisterEntry:
    """Append ``document`` to its organisation's register (a step: joins the caller's
    transaction, which it requires). Locks the organisation's :class:`Register` row, so two
    appends are numbered one after the other and never fork the chain."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("register_append must run inside the issuing transaction")
    register, _ = Register.objects.get_or_create(
        organisation=organisation, defaults={"length": 0, "head": GENESIS}
    )
    register = Register.objects.select_for_update().get(pk=register.pk)
    seq = register.length + 1
    digest = entry_hash(
        lg_code=organisation.lg_code,
        seq=seq,
        kind=document.kind,
        number=document.number,
        code=document.code,
        sha256=document.sha256,
        issued_at=document.issued_at,
        prev_hash=register.head,
    )
    entry = RegisterEntry.objects.create(
        organisation=organisation,
        seq=seq,
        document=document,
        kind=document.kind,
        number=document.number,
        code=document.code,
        sha256=document.sha256,
        issued_at=document.issued_at,
        prev_hash=register.head,
        entry_hash=digest,
    )
    register.length = seq
    register.head = digest
    register.save(update_fields=["length", "head"])
    return entry


def documents_purge(*, organisation: Organisation, document_ids: list[int], now: datetime) -> int:
    """Delete the PDFs of ``document_ids`` at the end of their retention (a step: joins the
    caller's transaction). The register entry, number, code and digest stay, so a holder's
    copy can still be verified. Returns how many were purged."""
    return Document.objects.filter(
        organisation=organisation, pk__in=document_ids, purged_at__isnull=True
    ).update(pdf=b"", purged_at=now)


def documents_purge_by_source_prefix(
    *, organisation: Organisation, prefix: str, now: datetime
) -> int:
    """:func:`documents_purge` for every document of ``organisation`` whose ``source_key``
    starts with ``prefix`` (e.g. ``application:12:`` — the receipts, notices, corrected
    notices and certificates of one application). A step: joins the caller's transaction.
    Refuses (``ValueError``) a prefix that does not end with ``:``, so that
    ``application:1`` never purges application 12's documents. Returns how many."""
    if not prefix.endswith(":") or len(prefix) < 3:
        raise ValueError("a source prefix must end with ':'")
    return Document.objects.filter(
        organisation=organisation, source_key__startswith=prefix, purged_at__isnull=True
    ).update(pdf=b"", purged_at=now)


@dataclass(frozen=True)
class Inclusion:
    """Where a document stands in its organisation's register: its entry and the first
    published daily head that covers it (None until the next publication)."""

    seq: int
    entry_hash: str
    head_day: date | None
    head_length: int | None
    head: str | None


def register_inclusion(document: Document) -> Inclusion | None:
    """The document's place in the register, or None when it has no entry (never, for a
    document issued through :func:`madoguchi.documents.issuance.document_issue` or carried
    over by migration ``documents.0004``)."""
    entry = RegisterEntry.objects.filter(
        organisation_id=document.organisation_id, document=document
    ).first()
    if entry is None:
        return None
    head = (
        RegisterHead.objects.filter(organisation_id=document.organisation_id, length__gte=entry.seq)
        .order_by("day")
        .first()
    )
    return Inclusion(
        seq=entry.seq,
        entry_hash=entry.entry_hash,
        head_day=head.day if head else None,
        head_length=head.length if head else None,
        head=head.head if head else None,
    )
