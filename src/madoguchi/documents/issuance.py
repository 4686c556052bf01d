"""Issuing a document (文書の発行): number, verification code, build, seal, register.

:func:`document_issue` is a *step*: it joins the caller's transaction (the decision, the
sign-off, …) so that the number, the document and its register entry exist exactly when the
act that issued them does. Entry apps never call it (import-linter); they call the domain
service that issues (``application_decide`` …).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from madoguchi.core.time import to_tokyo
from madoguchi.documents.codes import code_new, verify_url
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.models import Document, NumberSeries
from madoguchi.documents.notice_text import notice_settings
from madoguchi.documents.register import register_append
from madoguchi.documents.seal import seal_pdf
from madoguchi.tenants.models import Organisation


def fiscal_year_of(instant: datetime) -> int:
    """The Japanese fiscal year (年度, April–March) of an instant, in Japan time."""
    day = to_tokyo(instant).date()
    return day.year if day.month >= 4 else day.year - 1


@dataclass(frozen=True)
class Stamp:
    """What the issuing gives the document before it is built: its number, code and issuer."""

    number: str
    code: str
    verify_url: str
    issued_at: datetime
    issuer_title: str
    issuer_name: str
    #: 教示 for the document's kind (empty for a document that is not a disposition).
    appeal: str

    @property
    def issuer(self) -> str:
        return f"{self.issuer_title}　{self.issuer_name}".strip("　 ")


def number_take(
    *, organisation: Organisation, key: str, prefix: str, now: datetime
) -> tuple[NumberSeries, int]:
    """The next number of series ``key`` in the fiscal year of ``now`` (a step: inside the
    issuing transaction, under the series row's lock)."""
    year = fiscal_year_of(now)
    series, _ = NumberSeries.objects.get_or_create(
        organisation=organisation, key=key, fiscal_year=year, defaults={"prefix": prefix}
    )
    series = NumberSeries.objects.select_for_update().get(pk=series.pk)
    series.last_number += 1
    series.save(update_fields=["last_number"])
    return series, series.last_number


def number_text(prefix: str, serial: int) -> str:
    """A document number as printed: 鎌こ第123号."""
    return f"{prefix}第{serial}号"


def document_issue(
    *,
    organisation: Organisation,
    kind: DocumentKind,
    title: str,
    source_key: str,
    build: Callable[[Stamp], bytes],
    now: datetime,
    numbered: bool = True,
    procedure_key: str | None = None,
    number: str = "",
    name: str = "",
) -> Document:
    """Issue one document (a step: joins the caller's transaction, which it requires).

    Guarantees: the document of ``source_key`` exists once (a second call returns it); when
    ``numbered``, the next number of the notice settings' series (of ``procedure_key`` where
    it has its own) in this fiscal year is taken under a lock and printed as prefix 第n号
    (``number`` is printed otherwise); ``name`` is the document's own name as printed
    (e.g. 罹災証明書; the kind's label when empty — never a receipt number); the PDF
    ``build`` makes is sealed (:func:`madoguchi.documents.seal.seal_pdf`), stored with its
    SHA-256, and appended to the organisation's register. Raises
    :class:`madoguchi.documents.seal.SealError` (the caller's transaction then rolls back, and
    with it the number).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document_issue must run inside the issuing transaction")
    existing = Document.objects.filter(organisation=organisation, source_key=source_key).first()
    if existing is not None:
        return existing
    notice = notice_settings(organisation, procedure_key=procedure_key)
    series: NumberSeries | None = None
    serial: int | None = None
    if numbered:
        series, serial = number_take(
            organisation=organisation,
            key=notice.number_key,
            prefix=notice.number_prefix,
            now=now,
        )
        number = number_text(series.prefix, serial)
    code = code_new()
    while Document.objects.filter(code=code).exists():  # 80 bits: never in practice
        code = code_new()
    stamp = Stamp(
        number=number,
        code=code,
        verify_url=verify_url(code),
        issued_at=now,
        issuer_title=notice.issuer_title,
        issuer_name=notice.issuer_name,
        appeal={
            DocumentKind.DECISION_APPROVE: notice.appeal_approve,
            DocumentKind.DECISION_REJECT: notice.appeal_reject,
        }.get(kind, ""),
    )
    sealed = seal_pdf(build(stamp), organisation=organisation, now=now)
    document = Document.objects.create(
        organisation=organisation,
        kind=kind,
        title=title,
        name=(name or str(DocumentKind(kind).label))[:64],
        source_key=source_key,
        number=number,
        series=series,
        serial=serial,
        code=code,
        issuer=stamp.issuer,
        issued_at=now,
        pdf=sealed.pdf,
        sha256=hashlib.sha256(sealed.pdf).hexdigest(),
        issued_length=len(sealed.pdf),
        sealed_by=sealed.sealed_by,
        timestamped=sealed.timestamped,
        archive_due_at=sealed.archive_due_at,
    )
    register_append(organisation=organisation, document=document)
    return document
