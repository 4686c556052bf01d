"""Signed PDFs for tests and benchmarks of verification (imported by tests and bench only).

A small certificate authority made with ``cryptography`` (a root, and signing certificates
under it, valid or expired) and :func:`pdf_sign`, which signs a PDF with pyHanko the way the
organisation's seal does (an approval signature in an incremental update). Nothing here is
used by the running platform.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from madoguchi.core.sync import off_loop


@dataclass(frozen=True)
class TestIdentity:
    """A certificate and its key, in the forms pyHanko takes."""

    __test__ = False

    certificate: asn1_x509.Certificate
    key: asn1_keys.PrivateKeyInfo
    chain: tuple[asn1_x509.Certificate, ...]


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(key: ec.EllipticCurvePrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return asn1_keys.PrivateKeyInfo.load(der)


@dataclass(frozen=True)
class TestCA:
    """A root CA that signs signing certificates."""

    __test__ = False  # not a pytest test class

    name: str
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate

    @classmethod
    def make(cls, name: str = "Madoguchi Test Root CA", *, now: datetime | None = None) -> TestCA:
        moment = now or datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name)
        root = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(moment - timedelta(days=3650))
            .not_valid_after(moment + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(name=name, root_key=key, root=root)

    @property
    def root_asn1(self) -> asn1_x509.Certificate:
        return _asn1(self.root)

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def signer(
        self,
        common: str = "横浜市長 電子公印",
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> TestIdentity:
        """A signing certificate under this root (give ``not_after`` in the past for an
        expired one)."""
        moment = datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common))
            .issuer_name(self.root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or moment - timedelta(days=30))
            .not_valid_after(not_after or moment + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                critical=False,
            )
            .sign(self.root_key, hashes.SHA256())
        )
        return TestIdentity(certificate=_asn1(cert), key=_asn1_key(key), chain=(self.root_asn1,))


def pdf_sign(
    pdf: bytes, identity: TestIdentity, *, field_name: str = "Seal", timestamper: Any = None
) -> bytes:
    """``pdf`` with an approval signature of ``identity`` appended as an incremental update."""
    signer = signers.SimpleSigner(
        signing_cert=identity.certificate,
        signing_key=identity.key,
        cert_registry=SimpleCertificateStore.from_certs(list(identity.chain)),  # type: ignore[no-untyped-call]
    )
    out = io.BytesIO()
    off_loop(
        lambda: signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False),
            signers.PdfSignatureMetadata(field_name=field_name),
            signer=signer,
            timestamper=timestamper,
            output=out,
        )
    )
    return out.getvalue()


def pdf_plain(text: str = "Madoguchi test") -> bytes:
    """A small unsigned one-page PDF (reportlab)."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


def pdf_append_page_text(pdf: bytes, text: str = "changed") -> bytes:
    """``pdf`` with new content added in an incremental update after its last revision
    (what an incremental-update attack on a signed PDF looks like)."""
    from pyhanko.pdf_utils import generic

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    stream = generic.StreamObject(
        stream_data=f"BT /F1 24 Tf 72 600 Td ({text}) Tj ET".encode("ascii")
    )
    writer.add_stream_to_page(0, writer.add_object(stream))  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def pdf_hide_fields_and_change(pdf: bytes, text: str = "FORGED") -> bytes:
    """``pdf`` with an incremental update that adds content to its page and empties
    ``/AcroForm /Fields`` — so a later reader no longer lists the earlier signatures (the
    forgery the verification must see through)."""
    from pyhanko.pdf_utils import generic

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    stream = generic.StreamObject(
        stream_data=f"BT /F1 24 Tf 72 500 Td ({text}) Tj ET".encode("ascii")
    )
    writer.add_stream_to_page(0, writer.add_object(stream))  # type: ignore[no-untyped-call]
    root = writer.root
    form = root["/AcroForm"]
    form["/Fields"] = generic.ArrayObject()
    form_ref = root.raw_get("/AcroForm")
    if isinstance(form_ref, generic.IndirectObject):
        writer.update_container(form)
    else:
        writer.update_root()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def tsa_make(ca: TestCA, *, at: datetime | None = None) -> Any:
    """A pyHanko timestamp authority whose certificate chains to ``ca`` (``at`` fixes the
    time it claims)."""
    from pyhanko.sign.timestamps import DummyTimeStamper

    moment = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Madoguchi Test TSA"))
        .issuer_name(ca.root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(days=3650))
        .not_valid_after(moment + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
        .sign(ca.root_key, hashes.SHA256())
    )
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DummyTimeStamper(
        tsa_cert=_asn1(cert),
        tsa_key=asn1_keys.PrivateKeyInfo.load(der),
        certs_to_embed=SimpleCertificateStore.from_certs([ca.root_asn1]),  # type: ignore[no-untyped-call]
        fixed_dt=at,
    )


def pdf_seal_like_platform(pdf: bytes, identity: TestIdentity, timestamper: Any) -> bytes:
    """``pdf`` sealed the way ``documents.seal.seal_pdf`` does: PAdES with a signature
    timestamp and the validation data (B-LT), which pyHanko appends in an update of its own
    after the signature."""
    from pyhanko.sign import fields
    from pyhanko_certvalidator import ValidationContext

    signer = signers.SimpleSigner(
        signing_cert=identity.certificate,
        signing_key=identity.key,
        cert_registry=SimpleCertificateStore.from_certs(list(identity.chain)),  # type: ignore[no-untyped-call]
    )
    metadata = signers.PdfSignatureMetadata(
        field_name="公印",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=ValidationContext(
            trust_roots=list(identity.chain), allow_fetching=False, revocation_mode="soft-fail"
        ),
    )
    output = off_loop(
        lambda: signers.PdfSigner(metadata, signer=signer, timestamper=timestamper).sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        )
    )
    return bytes(output.getvalue())


def pdf_archive_timestamp(pdf: bytes, timestamper: Any) -> bytes:
    """``pdf`` with a document timestamp appended (what archival re-timestamping adds)."""
    out = io.BytesIO()
    off_loop(
        lambda: signers.PdfTimeStamper(timestamper).timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False), "sha256", output=out
        )
    )
    return out.getvalue()
