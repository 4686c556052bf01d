"""The electronic seal (電子公印): PAdES B-LT with a timestamp, checked by tools we did not write
(poppler's ``pdfsig``, pyHanko's validator), a real timestamp authority on loopback, file
keys, the test CA's refusal in production, and archival timestamps (B-LTA)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.db import transaction
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import validation
from pyhanko_certvalidator import ValidationContext

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.core.sync import off_loop
from madoguchi.core.time import now as clock_now
from madoguchi.documents.archive import documents_archive_tick
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.decision import DecisionData, decision_pdf
from madoguchi.documents.issuance import Stamp, document_issue
from madoguchi.documents.models import Document, NumberSeries
from madoguchi.documents.seal import SEAL_FIELD, SealError, seal_pdf, seal_trust_roots
from madoguchi.documents.testing import LoopbackTsa
from madoguchi.tenants.models import Organisation

PDFSIG = "/usr/bin/pdfsig"

DATA = DecisionData(
    organisation_name="横浜市",
    procedure_name="住民票の写しの交付請求",
    receipt_number="R-2026-000123",
    outcome="approve",
    reason="",
    decided_on_text="令和8年12月4日（2026年12月4日）",
    arrived_at_text="令和8年12月1日 10時00分（2026-12-01 10:00）",
    applicant_name="鎌倉　花子",
    number="横こ第1号",
    issuer="横浜市長　山中　竹春",
    code="ABCD-EFGH-JKLM",
    verify_url="http://127.0.0.1:8000/verify/ABCDEFGHJKLM",
)


# pyHanko's synchronous validators run asyncio.run: off the loop a browser test may have left
# running in this thread (Playwright's synchronous API).
def validate_pdf_signature(*args: Any, **kwargs: Any) -> Any:
    return off_loop(lambda: validation.validate_pdf_signature(*args, **kwargs))


def validate_pdf_timestamp(*args: Any, **kwargs: Any) -> Any:
    return off_loop(lambda: validation.validate_pdf_timestamp(*args, **kwargs))


def _notice(stamp: Stamp | None = None) -> bytes:
    data = DATA
    if stamp is not None:
        data = replace(
            DATA,
            number=stamp.number,
            issuer=stamp.issuer,
            code=stamp.code,
            verify_url=stamp.verify_url,
        )
    return decision_pdf(data, generated_at=datetime(2026, 12, 4, tzinfo=UTC))


def _yokohama() -> Organisation:
    # Not saved: sealing needs the organisation's code and name only.
    return Organisation(lg_code="141003", name="横浜市")


# --- session fixtures: the test CA's keys, a sealed notice, a TSA on loopback --------------


@pytest.fixture(scope="session")
def notice() -> bytes:
    return _notice()


@pytest.fixture(scope="session")
def sealed(notice: bytes) -> bytes:
    """One notice sealed with the test CA and the in-process test TSA (made once)."""
    result = seal_pdf(notice, organisation=_yokohama(), now=clock_now())
    assert result.timestamped
    return result.pdf


@pytest.fixture(scope="session")
def loopback_tsa() -> Iterator[LoopbackTsa]:
    tsa = LoopbackTsa(now=clock_now())
    yield tsa
    tsa.stop()


def _pdfsig() -> str:
    if not Path(PDFSIG).exists():
        if os.environ.get("MADOGUCHI_REQUIRE_BROWSER"):
            pytest.fail(f"{PDFSIG} (poppler-utils) is required here (MADOGUCHI_REQUIRE_BROWSER)")
        pytest.skip("pdfsig (poppler-utils) is not installed")
    return PDFSIG


def _run_pdfsig(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    home = tmp_path / "home"  # no ~/.pki/nssdb: NSS trusts nothing but its built-in roots
    home.mkdir(exist_ok=True)
    result = subprocess.run(
        [_pdfsig(), "-no-ocsp", str(path)],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout + result.stderr


def _contexts() -> dict[str, Any]:
    roots = seal_trust_roots()
    return {
        "signer_validation_context": ValidationContext(trust_roots=roots, allow_fetching=False),
        "ts_validation_context": ValidationContext(trust_roots=roots, allow_fetching=False),
    }


# --- independent checks -----------------------------------------------------------------------


def test_pdfsig_says_the_seal_is_valid_but_not_trusted_and_a_changed_byte_invalid(
    sealed: bytes, tmp_path: Path
) -> None:
    report = _run_pdfsig(sealed, tmp_path)
    assert f"Signature Field Name: {SEAL_FIELD}" in report
    assert "横浜市 公印（試験用）" in report
    assert "ETSI.CAdES.detached" in report
    assert "Signature is Valid" in report, report
    # The test CA is in nobody's trust store, as it must be.
    assert "Certificate issuer isn't Trusted" in report, report

    # One byte changed inside the signed range: the /Producer string of the first revision.
    position = sealed.index(b"ReportLab")
    changed = sealed[:position] + b"X" + sealed[position + 1 :]
    assert len(changed) == len(sealed)
    tampered = _run_pdfsig(changed, tmp_path)
    assert "Signature is Valid" not in tampered, tampered
    assert "Digest Mismatch" in tampered or "Invalid" in tampered, tampered


def test_pyhanko_finds_the_seal_intact_valid_trusted_timestamped_with_dss(sealed: bytes) -> None:
    reader = PdfFileReader(BytesIO(sealed))
    (signature,) = reader.embedded_regular_signatures
    assert signature.field_name == SEAL_FIELD
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    status = validate_pdf_signature(signature, **_contexts())
    assert status.intact
    assert status.valid
    assert status.trusted  # with the test CA's root trusted
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact
    assert status.timestamp_validity.valid
    assert status.timestamp_validity.trusted
    dss = reader.root["/DSS"]
    assert len(dss["/Certs"]) >= 2
    assert len(dss["/CRLs"]) >= 1  # B-LT: the revocation data travels with the document

    untrusted = validate_pdf_signature(
        signature, ValidationContext(trust_roots=[], allow_fetching=False)
    )
    assert untrusted.intact
    assert untrusted.valid
    assert not untrusted.trusted


def test_the_seal_is_an_incremental_update_of_the_notice(notice: bytes, sealed: bytes) -> None:
    assert sealed.startswith(notice)


def test_trust_roots_are_the_test_ca_and_never_in_production(sealed: bytes, settings: Any) -> None:
    (root,) = seal_trust_roots()
    assert "本番では信頼されません" in root.subject.native["common_name"]
    settings.PRODUCTION = True
    assert seal_trust_roots() == []


# --- the timestamp authority --------------------------------------------------------------------


def test_a_real_tsa_over_http_on_loopback_stamps_the_seal(
    notice: bytes, loopback_tsa: LoopbackTsa, settings: Any
) -> None:
    settings.TSA_URL = loopback_tsa.url
    before = loopback_tsa.requests
    result = seal_pdf(notice, organisation=_yokohama(), now=clock_now())
    assert loopback_tsa.requests > before
    assert result.timestamped
    assert result.archive_due_at is not None
    status = validate_pdf_signature(
        PdfFileReader(BytesIO(result.pdf)).embedded_regular_signatures[0], **_contexts()
    )
    assert status.intact
    assert status.valid
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.valid
    assert status.timestamp_validity.trusted


@pytest.mark.parametrize("down", ["refused", "503"])
def test_a_tsa_that_does_not_answer_issues_nothing_and_uses_no_number(
    down: str, organisation: Organisation, loopback_tsa: LoopbackTsa, settings: Any
) -> None:
    from madoguchi.testing import free_port

    settings.TSA_URL = (
        f"http://127.0.0.1:{free_port()}/tsa" if down == "refused" else loopback_tsa.url_down
    )
    settings.TSA_TIMEOUT = 5
    moment = clock_now()
    with pytest.raises(SealError) as refused, transaction.atomic():
        document_issue(
            organisation=organisation,
            kind=DocumentKind.DECISION_APPROVE,
            title="承認通知書",
            source_key="test:tsa-down",
            build=_notice,
            now=moment,
        )
    assert "タイムスタンプ局" in str(refused.value)
    assert "発行されていません" in str(refused.value)
    assert not Document.objects.filter(source_key="test:tsa-down").exists()
    assert not NumberSeries.objects.filter(organisation=organisation, last_number__gt=0).exists()

    settings.TSA_URL = loopback_tsa.url  # the TSA is back: the first number is still free
    with transaction.atomic():
        document = document_issue(
            organisation=organisation,
            kind=DocumentKind.DECISION_APPROVE,
            title="承認通知書",
            source_key="test:tsa-down",
            build=_notice,
            now=moment,
        )
    assert document.serial == 1
    assert document.timestamped
    assert document.sealed_by == "横浜市 公印（試験用）"


# --- production refuses the test CA -----------------------------------------------------------


def test_production_refuses_the_test_ca_and_the_test_tsa(notice: bytes, settings: Any) -> None:
    settings.PRODUCTION = True
    with pytest.raises(SealError) as refused:
        seal_pdf(notice, organisation=_yokohama(), now=clock_now())
    assert "本番環境では試験用の公印CAは使えません" in str(refused.value)


def test_the_production_check_names_the_seal_and_the_tsa() -> None:
    from madoguchi.conf.env import ProductionCheck, production_problems

    check = ProductionCheck(
        debug=False,
        secret_key_from_env=None,
        allowed_hosts=["example.jp"],
        tls=True,
        database_url="postgres://x",
        seal_configured=False,
        tsa_url="",
    )
    text = "\n".join(production_problems(check))
    assert "MADOGUCHI_SEAL_DIR" in text
    assert "MADOGUCHI_SEAL_PKCS11_MODULE" in text
    assert "MADOGUCHI_TSA_URL" in text
    fine = replace(check, seal_configured=True, tsa_url="http://tsa.example.lg.jp/")
    text = "\n".join(production_problems(fine))
    assert "MADOGUCHI_SEAL" not in text
    assert "MADOGUCHI_TSA_URL" not in text


# --- a file key per organisation (as an LGPKI 組織認証 certificate would be installed) ---------


def _name(text: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, text),
        ]
    )


@pytest.fixture(scope="session")
def seal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``MADOGUCHI_SEAL_DIR`` with an own CA → intermediate → 横浜市's seal, the key
    encrypted with a passphrase in key.pass, and the CRLs in crl/ (made once)."""
    base = tmp_path_factory.mktemp("seal-dir")
    moment = datetime.now(UTC)

    def make(subject: str, issuer_key: Any, issuer: x509.Name | None, *, ca: bool) -> Any:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(issuer or _name(subject))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(moment - timedelta(days=1))
            .not_valid_after(moment + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=not ca,
                    content_commitment=not ca,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        return key, builder.sign(issuer_key or key, hashes.SHA256())

    root_key, root = make("試験 ルート認証局", None, None, ca=True)
    mid_key, mid = make("試験 組織認証局", root_key, root.subject, ca=True)
    seal_key, seal = make("横浜市長 公印", mid_key, mid.subject, ca=False)
    pem = serialization.Encoding.PEM
    org = base / "141003"
    org.mkdir()
    (org / "key.pass").write_bytes(b"correct horse battery staple\n")
    (org / "key.pem").write_bytes(
        seal_key.private_bytes(
            pem,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse battery staple"),
        )
    )
    os.chmod(org / "key.pem", 0o600)
    (org / "cert.pem").write_bytes(seal.public_bytes(pem))
    (org / "chain.pem").write_bytes(mid.public_bytes(pem) + root.public_bytes(pem))
    (base / "crl").mkdir()
    for key, certificate in ((root_key, root), (mid_key, mid)):
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(certificate.subject)
            .last_update(moment - timedelta(days=1))
            .next_update(moment + timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        (base / "crl" / f"{certificate.serial_number}.crl").write_bytes(
            crl.public_bytes(serialization.Encoding.DER)
        )
    (base / "roots.pem").write_bytes(root.public_bytes(pem))
    return base


def test_a_file_key_seals_with_the_organisations_certificate(
    notice: bytes, seal_dir: Path, settings: Any
) -> None:
    settings.SEAL_DIR = str(seal_dir)
    settings.SEAL_TRUST_ROOTS = str(seal_dir / "roots.pem")
    result = seal_pdf(notice, organisation=_yokohama(), now=clock_now())
    assert result.sealed_by == "横浜市長 公印"
    roots = seal_trust_roots()
    assert [r.subject.native["common_name"] for r in roots] == ["試験 ルート認証局"]
    status = validate_pdf_signature(
        PdfFileReader(BytesIO(result.pdf)).embedded_regular_signatures[0],
        ValidationContext(trust_roots=roots, allow_fetching=False),
    )
    assert status.intact
    assert status.valid
    assert status.trusted


def test_an_organisation_without_a_key_in_the_seal_dir_is_told_where_to_put_it(
    notice: bytes, seal_dir: Path, settings: Any
) -> None:
    settings.SEAL_DIR = str(seal_dir)
    with pytest.raises(SealError) as refused:
        seal_pdf(
            notice, organisation=Organisation(lg_code="142042", name="鎌倉市"), now=clock_now()
        )
    assert "142042" in str(refused.value)
    assert "key.pem" in str(refused.value)


@pytest.mark.parametrize("damage", ["key", "passphrase", "pair"])
def test_a_broken_key_file_is_a_japanese_seal_error(
    damage: str, notice: bytes, seal_dir: Path, tmp_path: Path, settings: Any
) -> None:
    broken = tmp_path / "seal"
    shutil.copytree(seal_dir, broken)
    org = broken / "141003"
    if damage == "key":
        (org / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n")
    elif damage == "passphrase":
        (org / "key.pass").write_bytes(b"wrong")
    else:  # a certificate of another key
        (org / "cert.pem").write_bytes((org / "chain.pem").read_bytes())
    settings.SEAL_DIR = str(broken)
    with pytest.raises(SealError) as refused:
        seal_pdf(notice, organisation=_yokohama(), now=clock_now())
    assert "公印の鍵" in str(refused.value)


def test_pkcs11_without_python_pkcs11_says_so(notice: bytes, settings: Any) -> None:
    pytest.importorskip("pyhanko")
    try:
        import pkcs11  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - installed: nothing to say
        pytest.skip("python-pkcs11 is installed")
    settings.SEAL_PKCS11_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
    with pytest.raises(SealError) as refused:
        seal_pdf(notice, organisation=_yokohama(), now=clock_now())
    assert "python-pkcs11" in str(refused.value)


# --- B-LTA: archival timestamps --------------------------------------------------------------


def _issue(organisation: Organisation, key: str) -> Document:
    with transaction.atomic():
        return document_issue(
            organisation=organisation,
            kind=DocumentKind.DECISION_APPROVE,
            title="承認通知書",
            source_key=key,
            build=_notice,
            now=clock_now(),
        )


def test_the_archive_tick_adds_a_document_timestamp_and_keeps_the_issued_bytes(
    organisation: Organisation,
) -> None:
    document = _issue(organisation, "test:archive")
    issued = bytes(document.pdf)
    assert document.archive_due_at is not None
    assert document.archive_due_at > clock_now()
    purged = _issue(organisation, "test:archive-purged")
    moment = clock_now()
    assert documents_archive_tick(now=moment) == 0  # nothing due yet
    Document.objects.filter(pk__in=[document.pk, purged.pk]).update(
        archive_due_at=moment - timedelta(minutes=1)
    )
    Document.objects.filter(pk=purged.pk).update(purged_at=moment, pdf=b"")

    assert documents_archive_tick(now=moment) == 1

    document.refresh_from_db()
    grown = bytes(document.pdf)
    assert len(grown) > len(issued)
    assert grown[: document.issued_length] == issued  # the first revisions, byte for byte
    assert document.sha256 == hashlib.sha256(issued).hexdigest()
    assert document.archive_due_at is not None
    assert document.archive_due_at > moment
    reader = PdfFileReader(BytesIO(grown))
    (stamp,) = reader.embedded_timestamp_signatures
    status = validate_pdf_timestamp(
        stamp, validation_context=ValidationContext(trust_roots=seal_trust_roots())
    )
    assert status.intact
    assert status.valid
    assert status.trusted
    seal_status = validate_pdf_signature(reader.embedded_regular_signatures[0], **_contexts())
    assert seal_status.intact
    assert seal_status.valid
    event = AuditEvent.objects.get(action=AuditAction.DOCUMENT_ARCHIVE_TIMESTAMPED)
    assert event.target_id == str(document.pk)
    purged.refresh_from_db()
    assert bytes(purged.pdf) == b""

    assert documents_archive_tick(now=moment) == 0  # due again only years later
    later = document.archive_due_at + timedelta(minutes=1)
    Document.objects.filter(pk=document.pk).update(archive_due_at=moment)
    assert documents_archive_tick(now=later) == 1  # a second archival timestamp over the first
    document.refresh_from_db()
    assert bytes(document.pdf).startswith(grown)
    assert len(PdfFileReader(BytesIO(bytes(document.pdf))).embedded_timestamp_signatures) == 2


def test_the_outbox_worker_adds_due_archival_timestamps(organisation: Organisation) -> None:
    from io import StringIO

    from django.core.management import call_command

    document = _issue(organisation, "test:archive-worker")
    Document.objects.filter(pk=document.pk).update(archive_due_at=clock_now())
    out = StringIO()
    call_command("outbox_worker", "--once", stdout=out, stderr=StringIO())
    assert "保存用タイムスタンプ: 1 件" in out.getvalue()
    document.refresh_from_db()
    assert len(PdfFileReader(BytesIO(bytes(document.pdf))).embedded_timestamp_signatures) == 1


def test_a_tsa_that_is_away_leaves_the_document_due(
    organisation: Organisation, loopback_tsa: LoopbackTsa, settings: Any
) -> None:
    document = _issue(organisation, "test:archive-later")
    moment = clock_now()
    Document.objects.filter(pk=document.pk).update(archive_due_at=moment)
    settings.TSA_URL = loopback_tsa.url_down
    assert documents_archive_tick(now=moment) == 0
    document.refresh_from_db()
    assert document.archive_due_at == moment
    assert not AuditEvent.objects.filter(action=AuditAction.DOCUMENT_ARCHIVE_TIMESTAMPED).exists()


# --- a decision in the console's service produces a sealed notice ----------------------------


def test_a_decision_issues_a_sealed_timestamped_notice(
    procedure: Any, resident: Any, staff_member: Any, tmp_path: Path
) -> None:
    from madoguchi.applications.constants import ApplicationStatus
    from madoguchi.applications.review import application_decide, application_move
    from madoguchi.testing import submit_named

    application = submit_named(procedure, resident)
    for target, seen in (
        (ApplicationStatus.ACCEPTED, ApplicationStatus.SUBMITTED),
        (ApplicationStatus.IN_REVIEW, ApplicationStatus.ACCEPTED),
    ):
        application = application_move(
            organisation=application.organisation,
            application=application,
            staff=staff_member,
            to_status=target,
            expected_status=seen,
            now=clock_now(),
        )
    issued = application_decide(
        organisation=application.organisation,
        application=application,
        staff=staff_member,
        outcome="approve",
        reason="",
        expected_status=ApplicationStatus.IN_REVIEW,
        now=clock_now(),
    )
    document = issued.record
    assert document.sealed_by == "横浜市 公印（試験用）"
    assert document.timestamped
    assert document.archive_due_at is not None
    pdf = bytes(document.pdf)
    assert document.sha256 == hashlib.sha256(pdf).hexdigest()
    status = validate_pdf_signature(
        PdfFileReader(BytesIO(pdf)).embedded_regular_signatures[0], **_contexts()
    )
    assert status.intact
    assert status.valid
    assert status.trusted
    assert "Signature is Valid" in _run_pdfsig(pdf, tmp_path)


def test_the_console_says_in_japanese_when_the_tsa_is_away_and_decides_nothing(
    procedure: Any,
    resident: Any,
    staff_member: Any,
    staff_client: Any,
    loopback_tsa: LoopbackTsa,
    settings: Any,
) -> None:
    from django.urls import reverse

    from madoguchi.applications.constants import ApplicationStatus
    from madoguchi.applications.models import Application, IssuedDocument
    from madoguchi.applications.review import application_move
    from madoguchi.testing import submit_named

    application = submit_named(procedure, resident)
    for target, seen in (
        (ApplicationStatus.ACCEPTED, ApplicationStatus.SUBMITTED),
        (ApplicationStatus.IN_REVIEW, ApplicationStatus.ACCEPTED),
    ):
        application = application_move(
            organisation=application.organisation,
            application=application,
            staff=staff_member,
            to_status=target,
            expected_status=seen,
            now=clock_now(),
        )
    settings.TSA_URL = loopback_tsa.url_down
    response = staff_client.post(
        reverse("console:application_decide", args=[application.pk]),
        {
            "outcome": "approve",
            "reason": "要件を満たしています。",
            "expected_status": ApplicationStatus.IN_REVIEW,
            "confirm": "1",
        },
    )
    assert response.status_code == 400
    assert "タイムスタンプ局から応答がないため" in response.content.decode()
    status = Application.objects.values_list("status", flat=True).get(pk=application.pk)
    assert status == ApplicationStatus.IN_REVIEW
    assert not IssuedDocument.objects.filter(application=application).exists()


def test_bytes_that_are_not_a_pdf_are_a_seal_error_not_a_500() -> None:
    with pytest.raises(SealError) as refused:
        seal_pdf(b"%PDF-1.7\nnot really", organisation=_yokohama(), now=clock_now())
    assert "公印を押せませんでした" in str(refused.value)


def test_the_test_ca_is_made_once_when_many_ask_at_once(tmp_path: Path, settings: Any) -> None:
    import threading

    from madoguchi.documents.seal_testca import seal_test_issue

    settings.DATA_DIR = tmp_path
    moment = clock_now()
    made: list[bytes] = []

    def issue() -> None:
        seal = seal_test_issue(lg_code="141003", organisation_name="横浜市", now=moment)
        made.append(seal.certificate_path.read_bytes() + seal.ca_path.read_bytes())

    threads = [threading.Thread(target=issue) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 3
    assert len(set(made)) == 1  # one CA, one seal certificate for the organisation
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".seal-test.")]
    key = tmp_path / "seal-test" / "orgs" / "141003" / "key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
