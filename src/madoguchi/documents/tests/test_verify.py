"""A bank clerk uploads a PDF to /verify/: the check says whether the seal is valid, whether
this platform issued it and whether it was changed — and answers hostile files clearly."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest

from madoguchi.core.sync import off_loop
from madoguchi.core.time import now
from madoguchi.documents.models import Document
from madoguchi.documents.testing import document_record_make
from madoguchi.documents.testsigning import (
    pdf_append_page_text,
    pdf_archive_timestamp,
    pdf_hide_fields_and_change,
    pdf_plain,
    pdf_seal_like_platform,
    pdf_sign,
    tsa_make,
)
from madoguchi.documents.verify import (
    MAX_REVISIONS,
    MAX_SIGNATURES,
    Refusal,
    Verdict,
    pdf_verify,
)


def check(data: bytes, seal_ca, **kwargs):
    return pdf_verify(data, now=datetime.now(UTC), roots=[seal_ca.root_asn1], **kwargs)


# --- signatures ---------------------------------------------------------------------------


def test_a_sealed_pdf_has_a_valid_trusted_signature_over_the_whole_file(db, seal_ca, signed_pdf):
    report = check(signed_pdf, seal_ca)

    assert report.verdict == Verdict.UNKNOWN  # not in the register (yet)
    [signature] = report.signatures
    assert signature.intact
    assert signature.valid
    assert signature.trusted
    assert signature.covers_whole_file
    assert signature.ok
    assert "横浜市長" in signature.signer


def test_a_one_byte_change_breaks_the_signature(db, seal_ca, signed_pdf):
    changed = bytearray(signed_pdf)
    at = changed.find(b"Kettei")
    changed[at] = ord("X")

    report = check(bytes(changed), seal_ca)

    [signature] = report.signatures
    assert not signature.intact
    assert any("書き換えられています" in p for p in signature.problems)
    assert report.verdict == Verdict.UNKNOWN


def test_a_chain_to_an_untrusted_root_is_reported(db, seal_ca, stranger_pdf):
    report = check(stranger_pdf, seal_ca)

    [signature] = report.signatures
    assert signature.intact
    assert signature.valid
    assert not signature.trusted
    assert any("信頼する認証局につながっていません" in p for p in signature.problems)


def test_an_expired_signing_certificate_is_reported(db, seal_ca, expired_pdf):
    report = check(expired_pdf, seal_ca)

    [signature] = report.signatures
    assert signature.expired
    assert not signature.trusted
    assert any("有効期限" in p for p in signature.problems)


def test_without_trust_roots_configured_no_signature_is_trusted(db, signed_pdf):
    report = pdf_verify(signed_pdf, now=now(), roots=[])

    [signature] = report.signatures
    assert not signature.trusted
    assert any("設定されていない" in p for p in signature.problems)


def test_an_unsigned_pdf_says_it_has_no_seal(db, seal_ca):
    report = check(pdf_plain(), seal_ca)

    assert report.signatures == ()
    assert any("電子署名（電子公印）がありません" in f for f in report.findings)


# --- issued here, changed or not ----------------------------------------------------------


def test_a_pdf_in_the_register_is_recognised_as_issued_here(organisation, seal_ca, signed_pdf):
    document = document_record_make(organisation=organisation, pdf=signed_pdf, now=now())

    report = check(signed_pdf, seal_ca)

    assert report.verdict == Verdict.ISSUED_INTACT
    assert report.issued is not None
    assert report.issued.document == document
    assert not report.issued.bytes_added


def test_content_added_after_the_seal_is_a_change_of_an_issued_document(
    organisation, seal_ca, signed_pdf
):
    document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    attacked = pdf_append_page_text(signed_pdf, "PAID IN FULL")

    report = check(attacked, seal_ca)

    assert report.verdict == Verdict.ISSUED_CHANGED
    assert report.issued is not None
    assert report.issued.bytes_added
    [signature] = report.signatures
    assert signature.intact
    assert signature.valid
    assert not signature.covers_whole_file  # … but it is only part of the file
    assert signature.added_after == "content"
    assert any("一部だけ" in p for p in signature.problems)


def test_a_second_signature_over_added_content_does_not_hide_the_change(
    organisation, seal_ca, stranger_ca, signed_pdf
):
    document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    attacked = pdf_sign(
        pdf_append_page_text(signed_pdf, "NEW TERMS"), stranger_ca.signer("Forger"), field_name="X"
    )

    report = check(attacked, seal_ca)

    assert report.verdict == Verdict.ISSUED_CHANGED


def test_anything_appended_to_an_unsealed_issued_document_is_a_change(organisation, seal_ca):
    pdf = pdf_plain("Unsealed notice")
    document_record_make(organisation=organisation, pdf=pdf, now=now())

    assert check(pdf, seal_ca).verdict == Verdict.ISSUED_INTACT
    assert check(pdf_append_page_text(pdf), seal_ca).verdict == Verdict.ISSUED_CHANGED


def test_a_withdrawn_document_is_still_recognised(organisation, seal_ca, signed_pdf):
    document = document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    Document.objects.filter(pk=document.pk).update(status="withdrawn", status_reason="誤り")

    report = check(signed_pdf, seal_ca)

    assert report.issued is not None
    assert report.issued.document.status == "withdrawn"


# --- hostile input ------------------------------------------------------------------------


def test_an_empty_upload_is_refused(db, seal_ca):
    report = check(b"", seal_ca)
    assert report.refusal == Refusal.EMPTY
    assert "空" in report.refusal_text


def test_a_file_that_is_not_a_pdf_is_refused(db, seal_ca):
    report = check(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, seal_ca)
    assert report.refusal == Refusal.NOT_PDF
    assert "PDFではありません" in report.refusal_text


def test_a_huge_file_is_refused_before_parsing(db, seal_ca, settings):
    settings.VERIFY_MAX_BYTES = 2048
    report = check(b"%PDF-1.7\n" + b"x" * 4096, seal_ca)
    assert report.refusal == Refusal.TOO_LARGE
    assert "大きすぎます" in report.refusal_text


def test_a_broken_pdf_is_unreadable_not_an_error(db, seal_ca):
    report = check(
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n", seal_ca
    )
    assert report.refusal == Refusal.UNREADABLE
    # It starts like a PDF: it may have been changed — ask the issuer.
    assert "検証できませんでした" in report.refusal_text
    assert "変更されているおそれ" in report.refusal_text
    assert "発行元" in report.refusal_text


def test_a_truncated_signed_pdf_is_answered(db, seal_ca, signed_pdf):
    report = check(signed_pdf[: len(signed_pdf) // 2], seal_ca)
    assert report.verdict in (Verdict.REFUSED, Verdict.UNKNOWN)


def test_an_encrypted_pdf_is_refused(db, seal_ca):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf_plain())))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)

    report = check(out.getvalue(), seal_ca)
    assert report.refusal == Refusal.ENCRYPTED
    assert "暗号化" in report.refusal_text


def test_a_pdf_with_too_many_revisions_is_refused(db, seal_ca):
    pdf = pdf_plain()
    for n in range(MAX_REVISIONS):
        pdf = pdf_append_page_text(pdf, f"rev {n}")

    report = check(pdf, seal_ca)
    assert report.refusal == Refusal.TOO_MANY_REVISIONS
    assert f"{MAX_REVISIONS}回" in report.refusal_text


def test_checking_stores_nothing(organisation, seal_ca, signed_pdf):
    document = document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    before = list(Document.objects.values_list("pk", "status", "sha256"))

    for data in (signed_pdf, b"", b"junk", pdf_append_page_text(signed_pdf)):
        check(data, seal_ca)

    assert list(Document.objects.values_list("pk", "status", "sha256")) == before
    assert document.sha256 == hashlib.sha256(signed_pdf).hexdigest()


@pytest.mark.parametrize("junk", [b"%PDF-", b"%PDF-1.7\n%%EOF", b"%PDF-1.7\n" + b"\xff" * 3000])
def test_odd_bytes_after_the_header_never_raise(db, seal_ca, junk):
    report = check(junk, seal_ca)
    assert report.verdict in (Verdict.REFUSED, Verdict.UNKNOWN)


def test_nothing_of_an_upload_reaches_the_log(db, seal_ca, stranger_pdf, signed_pdf, caplog):
    caplog.set_level("DEBUG")
    check(stranger_pdf, seal_ca)
    check(pdf_append_page_text(signed_pdf), seal_ca)
    check(b"%PDF-1.7\n garbage", seal_ca)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "Not a town" not in logged
    assert not [r for r in caplog.records if r.name.startswith("pyhanko")]


def test_validation_data_added_after_the_seal_is_not_a_change(organisation, seal_ca):
    """What archival (B-LT/B-LTA) updates append — a DSS with certificates — keeps the
    document as issued."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    identity = seal_ca.signer()
    signed = pdf_sign(pdf_plain("Archived"), identity)
    document_record_make(organisation=organisation, pdf=signed, now=now())
    embedded = PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures[0]
    out = io.BytesIO(signed)
    DocumentSecurityStore.add_dss(
        out,
        embedded.sig_object["/Contents"],
        certs=[identity.certificate, seal_ca.root_asn1],
        force_write=True,
    )
    grown = out.getvalue()
    assert grown.startswith(signed)
    assert len(grown) > len(signed)

    report = check(grown, seal_ca)

    assert report.verdict == Verdict.ISSUED_INTACT
    assert report.issued is not None
    assert report.issued.bytes_added
    [signature] = report.signatures
    assert signature.added_after == "validation"
    assert signature.ok


@pytest.mark.parametrize("form", ["asn1", "cryptography", "pem", "der"])
def test_the_seals_trust_roots_are_taken_in_any_usual_form(
    db, seal_ca, signed_pdf, monkeypatch, form
):
    from cryptography.hazmat.primitives.serialization import Encoding

    from madoguchi.documents import seal
    from madoguchi.documents.verify import trust_roots

    root = {
        "asn1": seal_ca.root_asn1,
        "cryptography": seal_ca.root,
        "pem": seal_ca.root_pem,
        "der": seal_ca.root.public_bytes(Encoding.DER),
    }[form]
    monkeypatch.setattr(seal, "seal_trust_roots", lambda: [root], raising=False)

    [loaded] = trust_roots()
    assert loaded.sha256 == seal_ca.root_asn1.sha256
    [signature] = pdf_verify(signed_pdf, now=now()).signatures
    assert signature.trusted


# --- review findings: forgery by hiding the seal, bombs, timestamp trust --------------------


def test_a_forgery_that_hides_the_seal_and_signs_the_whole_file_is_a_change(
    organisation, seal_ca, stranger_ca, signed_pdf
):
    """Append an update that changes the page and empties /AcroForm /Fields (the seal is no
    longer listed), then sign the result: pyHanko lists only the forger's signature, which
    covers the whole file. The issued revision's own seal still tells the truth."""
    document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    hidden = pdf_hide_fields_and_change(signed_pdf, "PAID IN FULL")
    forged = pdf_sign(hidden, stranger_ca.signer("Forger"), field_name="Seal2")

    report = pdf_verify(forged, now=now(), roots=[seal_ca.root_asn1, stranger_ca.root_asn1])

    assert report.issued is not None
    assert report.issued.bytes_added
    assert report.verdict == Verdict.ISSUED_CHANGED
    assert any("内容を変える追記" in f for f in report.findings)


def test_a_forgery_signed_with_a_trusted_timestamp_only_is_still_a_change(
    organisation, seal_ca, signed_pdf
):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    hidden = pdf_hide_fields_and_change(signed_pdf)
    out = io.BytesIO()
    off_loop(
        lambda: signers.PdfTimeStamper(tsa_make(seal_ca)).timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(hidden), strict=False), "sha256", output=out
        )
    )

    report = check(out.getvalue(), seal_ca)

    assert report.verdict == Verdict.ISSUED_CHANGED


def test_a_trusted_document_timestamp_after_issue_keeps_the_document_as_issued(
    organisation, seal_ca, signed_pdf
):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    out = io.BytesIO()
    off_loop(
        lambda: signers.PdfTimeStamper(tsa_make(seal_ca)).timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(signed_pdf), strict=False), "sha256", output=out
        )
    )

    report = check(out.getvalue(), seal_ca)

    assert report.verdict == Verdict.ISSUED_INTACT
    assert [s.kind for s in report.signatures] == ["signature", "timestamp"]


def test_an_untrusted_document_timestamp_after_issue_is_not_accepted(
    organisation, seal_ca, stranger_ca, signed_pdf
):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    document_record_make(organisation=organisation, pdf=signed_pdf, now=now())
    out = io.BytesIO()
    off_loop(
        lambda: signers.PdfTimeStamper(tsa_make(stranger_ca)).timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(signed_pdf), strict=False), "sha256", output=out
        )
    )

    assert check(out.getvalue(), seal_ca).verdict == Verdict.ISSUED_CHANGED


def _xref_bomb(size: int) -> bytes:
    """A small PDF whose xref stream inflates to ``size`` one-byte entries (/W [1 0 0])."""
    import zlib

    body = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    body += b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    packed = zlib.compress(b"\x01" * size, 9)
    at = len(body)
    body += (
        b"3 0 obj\n<< /Type /XRef /W [1 0 0] /Size %d /Root 1 0 R /Filter /FlateDecode"
        b" /Length %d >>\nstream\n" % (size, len(packed))
    )
    body += packed + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at
    return body


def test_a_decompression_bomb_claiming_too_many_objects_is_refused_unparsed(db, seal_ca):
    report = check(_xref_bomb(200_000), seal_ca)

    assert report.refusal == Refusal.RESOURCES
    assert "大きすぎるか" in report.refusal_text


def test_a_decompression_bomb_stops_at_the_memory_limit(
    db, seal_ca, signed_pdf, settings, monkeypatch
):
    from madoguchi.documents import verify

    monkeypatch.setattr(verify, "MAX_OBJECTS", 10**12)  # past the pre-scan
    settings.VERIFY_MEMORY_MB = 160
    settings.VERIFY_CPU_SECONDS = 5
    settings.VERIFY_TIMEOUT_SECONDS = 10

    report = check(_xref_bomb(20_000_000), seal_ca)

    assert report.verdict == Verdict.REFUSED
    assert report.refusal == Refusal.RESOURCES
    assert "検証できませんでした" in report.refusal_text
    # … while an ordinary signed PDF is examined within the same bounds.
    assert check(signed_pdf, seal_ca).verdict == Verdict.UNKNOWN


def test_more_signatures_than_examined_have_their_own_message(db, seal_ca):
    pdf = pdf_plain()
    identity = seal_ca.signer()
    for n in range(MAX_SIGNATURES + 1):
        pdf = pdf_sign(pdf, identity, field_name=f"S{n}")

    report = check(pdf, seal_ca)

    assert report.refusal == Refusal.TOO_MANY_SIGNATURES
    assert "電子署名が多すぎる" in report.refusal_text
    assert "追記" not in report.refusal_text


@pytest.fixture(scope="module")
def tsa_ca():
    from madoguchi.documents.testsigning import TestCA

    return TestCA.make("Madoguchi Test TSA Root")


def test_a_timestamp_from_a_tsa_under_its_own_root_is_trusted(db, seal_ca, tsa_ca):
    signed = pdf_sign(pdf_plain("Stamped"), seal_ca.signer(), timestamper=tsa_make(tsa_ca))

    trusted = pdf_verify(signed, now=now(), roots=[seal_ca.root_asn1], tsa_roots=[tsa_ca.root_asn1])
    without = pdf_verify(signed, now=now(), roots=[seal_ca.root_asn1], tsa_roots=[])

    [signature] = trusted.signatures
    assert signature.timestamped
    assert signature.ok
    [signature] = without.signatures
    assert not signature.timestamped  # an untrusted token proves no time


def test_an_untrusted_timestamp_cannot_backdate_an_expired_seal(db, seal_ca, stranger_ca, tsa_ca):
    moment = datetime.now(UTC)
    identity = seal_ca.signer(
        not_before=moment - timedelta(days=400), not_after=moment - timedelta(days=10)
    )
    claimed = moment - timedelta(days=100)  # inside the certificate's validity
    forged = pdf_sign(
        pdf_plain("Backdated"), identity, timestamper=tsa_make(stranger_ca, at=claimed)
    )
    genuine = pdf_sign(pdf_plain("Archived"), identity, timestamper=tsa_make(tsa_ca, at=claimed))

    [forged_sig] = pdf_verify(
        forged, now=now(), roots=[seal_ca.root_asn1], tsa_roots=[tsa_ca.root_asn1]
    ).signatures
    [genuine_sig] = pdf_verify(
        genuine, now=now(), roots=[seal_ca.root_asn1], tsa_roots=[tsa_ca.root_asn1]
    ).signatures

    assert not forged_sig.trusted
    assert not forged_sig.timestamped
    assert genuine_sig.timestamped
    assert genuine_sig.trusted


def test_the_tsa_roots_of_the_seal_module_are_used_by_default(db, seal_ca, tsa_ca, monkeypatch):
    from madoguchi.documents import seal

    signed = pdf_sign(pdf_plain("Stamped"), seal_ca.signer(), timestamper=tsa_make(tsa_ca))
    monkeypatch.setattr(seal, "seal_trust_roots", lambda: [seal_ca.root_asn1])
    monkeypatch.setattr(seal, "tsa_trust_roots", lambda: [tsa_ca.root_asn1])

    [signature] = pdf_verify(signed, now=now()).signatures

    assert signature.timestamped
    assert signature.ok


@pytest.fixture(scope="module")
def platform_sealed(seal_ca) -> bytes:
    """Sealed as the platform seals (B-LT: the DSS in its own update after the seal)."""
    return pdf_seal_like_platform(pdf_plain("Sealed notice"), seal_ca.signer(), tsa_make(seal_ca))


def test_an_archival_timestamp_on_a_b_lt_seal_keeps_the_document_as_issued(
    organisation, seal_ca, platform_sealed
):
    document_record_make(organisation=organisation, pdf=platform_sealed, now=now())
    archived = pdf_archive_timestamp(platform_sealed, tsa_make(seal_ca))

    report = check(archived, seal_ca)

    assert report.verdict == Verdict.ISSUED_INTACT
    assert report.issued is not None
    assert report.issued.bytes_added


def test_the_forgery_on_a_b_lt_seal_is_a_change(
    organisation, seal_ca, stranger_ca, platform_sealed
):
    document_record_make(organisation=organisation, pdf=platform_sealed, now=now())
    forged = pdf_sign(
        pdf_hide_fields_and_change(platform_sealed), stranger_ca.signer("Forger"), field_name="F"
    )

    assert check(forged, seal_ca).verdict == Verdict.ISSUED_CHANGED
