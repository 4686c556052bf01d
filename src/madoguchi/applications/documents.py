"""The documents an application gets: its receipt (到達通知) and, for procedures adopted from
the national 罹災証明書 template, the certificate issued with the approval."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.db import IntegrityError, transaction

from madoguchi.applications.constants import IssuedDocumentKind
from madoguchi.applications.inbox import applicant_name
from madoguchi.applications.models import Application, IssuedDocument
from madoguchi.applications.selectors import application_identity, application_rows
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.time import to_tokyo
from madoguchi.documents.certificate import (
    DISASTER_CERTIFICATE_TEMPLATE,
    CertificateData,
    certificate_pdf,
)
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.issuance import Stamp, document_issue
from madoguchi.documents.models import Document
from madoguchi.documents.receipt import ReceiptData, receipt_pdf
from madoguchi.forms.answers import walk
from madoguchi.forms.base import field_types
from madoguchi.forms.japanese import wareki
from madoguchi.forms.sealed import Sealed
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation


def document_download_name(
    issued: IssuedDocument, application: Application, *, disposition: str = "attachment"
) -> str:
    """The ``Content-Disposition`` of an issued document's download: a Japanese file name
    (承認通知書-<受付番号>.pdf, 却下通知書（訂正）-….pdf, 罹災証明書-….pdf) as RFC 5987
    ``filename*``, with an ASCII fallback (``decision_approve-<受付番号>.pdf``)."""
    receipt = application.receipt_number
    label = (
        IssuedDocumentKind(issued.kind).label if issued.kind in IssuedDocumentKind.values else ""
    )
    base = issued.title.replace(f"（{receipt}）", "").strip() or label or "文書"
    name = f"{base}-{receipt}.pdf"
    fallback = f"{issued.kind}-{receipt}.pdf"
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in fallback)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _receipt_data(application: Application) -> ReceiptData:
    arrived = to_tokyo(application.arrived_at)
    identity = application_identity(application)
    methods = "、".join(identity.methods)
    return ReceiptData(
        organisation_name=application.organisation.name,
        procedure_name=application.procedure.name,
        receipt_number=application.receipt_number,
        arrived_at_text=f"{wareki(arrived.date())} {arrived:%H時%M分%S秒}（{arrived:%Y-%m-%d %H:%M:%S} 日本時間）",
        rows=application_rows(application),
        digest=application.answers_digest,
        revision=application.revision,
        identity_text=f"{identity.level_text}" + (f"（{methods}）" if methods else ""),
        signature_lines=[
            f"{sig.signer} の署名（マイナンバーカードの署名用電子証明書）を"
            f"{to_tokyo(sig.verified_at):%Y-%m-%d %H:%M} に検証しました"
            f"（署名・有効期間・失効を確認、第{sig.revision}版）。"
            for sig in identity.signatures
        ],
        is_test=application.is_test,
        applicant_name=applicant_name(application),
    )


def application_receipt_pdf(application: Application, *, now: datetime) -> bytes:
    """The 到達通知 of ``application`` as a plain (unissued) PDF: receipt number, arrival time,
    organisation, procedure, the levels of identity met and how, who signed and that the
    signature was verified, the answers with My Number masked, and the SHA-256 of the
    submitted data. The resident downloads the issued one (:func:`application_receipt_issue`);
    this one serves operational-test applications, which are never registered."""
    return receipt_pdf(_receipt_data(application), generated_at=to_tokyo(now))


def receipt_source_key(application: Application) -> str:
    """The register's key of the receipt of the application's current revision (a corrected
    application (補正) gets a receipt of its own revision)."""
    base = f"application:{application.pk}:receipt"
    return base if application.revision <= 1 else f"{base}:r{application.revision}"


def application_receipt_issue(
    *,
    organisation: Organisation,
    application: Application,
    now: datetime,
    actor: User | None = None,
) -> Document:
    """The receipt (到達通知) of ``application`` as an issued document: sealed, verifiable
    (照合番号 and QR code) and entered in the organisation's register, its number being the
    receipt number.

    Guarantees: made once per revision of the application — a later call (or a concurrent
    one) returns the same :class:`Document`; its issuing is audited
    (``DOCUMENT_RECEIPT_ISSUED``, ids only). Runs in its own durable transaction, so it is
    never part of the submission (which must not lock the register). Raises
    ``Application.DoesNotExist`` for another organisation's application, ``ValueError`` for
    an operational-test application (never registered: use :func:`application_receipt_pdf`),
    :class:`madoguchi.documents.seal.SealError` when the seal cannot be applied.
    """
    if application.organisation_id != organisation.pk:
        raise Application.DoesNotExist
    if application.is_test:
        raise ValueError("operational-test applications get no issued receipt")
    source_key = receipt_source_key(application)
    existing = Document.objects.filter(organisation=organisation, source_key=source_key).first()
    if existing is not None:
        return existing
    data = _receipt_data(application)  # read before the register is locked

    def build(stamp: Stamp) -> bytes:
        return receipt_pdf(
            replace(
                data,
                issuer=stamp.issuer or organisation.name,
                code=stamp.code,
                verify_url=stamp.verify_url,
                issued_on_text=wareki(to_tokyo(stamp.issued_at).date()),
            ),
            generated_at=to_tokyo(now),
        )

    try:
        with transaction.atomic(durable=True):
            if Document.objects.filter(organisation=organisation, source_key=source_key).exists():
                return Document.objects.get(organisation=organisation, source_key=source_key)
            document = document_issue(
                organisation=organisation,
                kind=DocumentKind.RECEIPT,
                title=f"到達通知（{application.receipt_number}）",
                name="到達通知",
                source_key=source_key,
                build=build,
                now=now,
                numbered=False,
                number=application.receipt_number,
            )
            audit_record(
                action=AuditAction.DOCUMENT_RECEIPT_ISSUED,
                now=now,
                organisation=organisation,
                actor=actor,
                actor_label="申請者" if actor is not None else "申請者（ゲスト）",
                target_type="application",
                target_id=application.pk,
                detail={"document": document.pk, "sha256": document.sha256},
            )
            return document
    except IntegrityError:
        # Issued at the same moment by another request: that one stands.
        return Document.objects.get(organisation=organisation, source_key=source_key)


# --- certificates (証明書) ------------------------------------------------------------------


def _answer_texts(application: Application) -> dict[str, str]:
    """Each answered field's text as people read it, by path; sealed values stay masked."""
    texts: dict[str, str] = {}
    for answer in walk(form_spec(application.form_version), application.answers):
        if answer.is_group:
            continue
        if isinstance(answer.value, Sealed):
            texts[answer.path] = answer.value.masked
        else:
            texts[answer.path] = field_types[answer.field.type].display(
                answer.value, answer.field, reveal=False
            )
    return texts


def certificate_issued_by(application: Application) -> bool:
    """Whether an approval of ``application`` issues a certificate (its procedure is adopted
    from the national 罹災証明書 template)."""
    version = application.procedure.template_version
    return version is not None and version.template.slug == DISASTER_CERTIFICATE_TEMPLATE


def certificate_pdf_build(
    *,
    organisation: Organisation,
    application: Application,
    reason: str,
    damage_level: str,
    now: datetime,
    corrects: str = "",
) -> Callable[[Stamp], bytes] | None:
    """What builds the 罹災証明書 of ``application`` once its number and code are known, or
    None when its procedure issues no certificate. Everything is read here, before any row
    is locked.

    The 被害の程度 is what staff decided and chose explicitly with the approval
    (``damage_level``, one of :data:`madoguchi.documents.certificate.DAMAGE_LEVELS`, checked
    by :func:`madoguchi.applications.review.damage_level_clean`); it is never read from the
    reason, which is printed as written under 備考."""
    if not certificate_issued_by(application):
        return None
    answers: dict[str, Any] = application.answers
    texts = _answer_texts(application)
    role = answers.get("applicant_role")
    householder = (
        texts.get("householder_name", "")
        if role not in (None, "householder") and texts.get("householder_name")
        else applicant_name(application)
    )
    same = answers.get("property_same_address")
    address = (
        texts.get("property_address", "")
        if same is False and texts.get("property_address")
        else texts.get("applicant_address", "")
    )
    disaster = texts.get("disaster_name") or texts.get("disaster_type", "")
    if texts.get("disaster_name") and texts.get("disaster_type"):
        disaster = f"{texts['disaster_name']}（{texts['disaster_type']}）"
    data = CertificateData(
        organisation_name=organisation.name,
        receipt_number=application.receipt_number,
        applicant_name=applicant_name(application),
        householder_name=householder,
        property_address=address,
        disaster=disaster,
        damaged_on_text=texts.get("disaster_date", ""),
        damage_level=damage_level,
        building_text="・".join(
            text for text in (texts.get("building_type"), texts.get("structure")) if text
        ),
        ownership_text=texts.get("ownership", ""),
        note=reason,
        is_test=application.is_test,
        corrects=corrects,
    )

    def build(stamp: Stamp) -> bytes:
        return certificate_pdf(
            replace(
                data,
                number=stamp.number,
                issuer=stamp.issuer,
                code=stamp.code,
                verify_url=stamp.verify_url,
                issued_on_text=wareki(to_tokyo(stamp.issued_at).date()),
            ),
            generated_at=to_tokyo(now),
        )

    return build


def certificate_issue(
    *,
    organisation: Organisation,
    application: Application,
    actor: User,
    reason: str,
    now: datetime,
    damage_level: str = "",
) -> IssuedDocument | None:
    """Issue the certificate an approval of ``application`` brings (a step: joins the
    decision's transaction), or None when its procedure issues none.

    Guarantees: the 罹災証明書 is issued once (numbered in the notices' series, sealed,
    registered; source ``application:<id>:certificate``), shown on the applicant's my page
    as an :class:`IssuedDocument` beside the notice, and audited
    (``DOCUMENT_CERTIFICATE_ISSUED``, ids only). Raises
    :class:`madoguchi.documents.seal.SealError` (the decision then rolls back with it)."""
    build = certificate_pdf_build(
        organisation=organisation,
        application=application,
        reason=reason,
        damage_level=damage_level,
        now=now,
    )
    if build is None:
        return None
    title = f"罹災証明書（{application.receipt_number}）"
    record = document_issue(
        organisation=organisation,
        kind=DocumentKind.CERTIFICATE,
        title=title,
        name="罹災証明書",
        source_key=f"application:{application.pk}:certificate",
        procedure_key=f"procedure:{application.procedure_id}",
        build=build,
        now=now,
        # An operational-test application (運用テスト) takes no number of the real series.
        numbered=not application.is_test,
        number="（運用テスト）" if application.is_test else "",
    )
    issued, _ = IssuedDocument.objects.get_or_create(
        record=record,
        defaults={
            "organisation": organisation,
            "application": application,
            "kind": IssuedDocumentKind.CERTIFICATE,
            "title": title,
            "created_at": now,
        },
    )
    audit_record(
        action=AuditAction.DOCUMENT_CERTIFICATE_ISSUED,
        now=now,
        organisation=organisation,
        actor=actor,
        actor_label="職員",
        target_type="application",
        target_id=application.pk,
        detail={"document": record.pk, "number": record.number, "sha256": record.sha256},
    )
    return issued
