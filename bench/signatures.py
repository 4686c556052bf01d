"""Verifying a My Number card signature (level 3), everything included.

Figure: ``madoguchi.identity.signatures.services.signature_verify`` on a detached CMS made by
a test card (``madoguchi card issue``; the installation's test CA in the bench data
directory): parsing the CMS and the certificate, the RSA signature, the certificate path to
the trust anchor with pyhanko-certvalidator, validity, key usage and policy, revocation
against the test CA's CRL (parsed once and kept, as in a running server), and the 基本4情報.

Baseline: one bare RSA-2048 PKCS#1 v1.5 / SHA-256 verify of the same signature with
``cryptography``: the part no implementation can skip. The ratio is what the rest costs.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from _harness import Result, Settings, compare
from madoguchi.identity.signatures.services import signature_verify
from madoguchi.identity.signatures.testca import Person, card_issue, card_sign
from madoguchi.tenants.models import Organisation

TITLE = "verify a JPKI signature: CMS, RSA, path, validity, usage/policy, CRL, 基本4情報"
NOTES: list[str] = [
    "baseline: one RSA-2048 PKCS#1 v1.5 SHA-256 verify (cryptography) of the same signature;",
]

CONTENT = ('{"procedure":"jido-teate","answers":{"applicant_name":"鎌倉　花子"}}' * 40).encode()


def run(settings: Settings) -> list[Result]:
    now = datetime.now(UTC)
    card = card_issue(out=Path(tempfile.mkdtemp(prefix="bench-card-")), person=Person(), now=now)
    # Not saved: certificates of the test CA are checked against its own CRL, not the database.
    organisation = Organisation(lg_code="141003", name="横浜市")
    results = []
    for attributes in (False, True):
        cms = card_sign(card=card.directory, content=CONTENT, now=now, signed_attributes=attributes)
        verified = signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now)
        assert verified.attributes.name == Person().name
        assert verified.revocation.startswith("crl:test-ca#")

        certificate = x509.load_pem_x509_certificate(card.certificate_path.read_bytes())
        key = certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        signer = asn1_cms.ContentInfo.load(cms)["content"]["signer_infos"][0]
        signature = bytes(signer["signature"].native)
        signed = b"\x31" + signer["signed_attrs"].dump()[1:] if attributes else CONTENT
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())

        def figure(cms: bytes = cms) -> object:
            return signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now)

        def baseline(
            signature: bytes = signature, signed: bytes = signed, key: rsa.RSAPublicKey = key
        ) -> None:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())

        label = "with signed attributes" if attributes else "without signed attributes"
        results.append(
            compare(
                f"signature_verify, {label}",
                figure,
                baseline,
                "RSA verify (cryptography)",
                settings,
            )
        )
    for result in results:
        NOTES.append(
            f"{result.name}: {1 / result.figure.median:,.0f} verifications/s; "
            f"bare RSA verify {1 / result.baseline.median:,.0f}/s"  # type: ignore[union-attr]
        )
    return results
