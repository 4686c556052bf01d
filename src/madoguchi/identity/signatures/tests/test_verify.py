"""signature_verify against an openssl-built PKI: each way a signature can be wrong is refused
with its code and a Japanese sentence, never another exception."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from madoguchi.identity.signatures.base import SignatureProblem as P
from madoguchi.identity.signatures.base import SignatureRefused
from madoguchi.identity.signatures.services import (
    jpki_crl_import,
    signature_verify,
    signature_wrap_raw,
)
from madoguchi.identity.signatures.tests.pki import ADDRESS, NAME, Pki, openssl

CONTENT = '{"procedure":"jido-teate","answers":{"name":"鎌倉　花子"}}'.encode()
OTHER = '{"procedure":"jido-teate","answers":{"name":"鎌倉　太郎"}}'.encode()
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def with_crl(trusted: Pki, organisation):
    jpki_crl_import(
        organisation=organisation, data=trusted.jlis.crl("current"), actor=None, now=now()
    )
    return trusted


def refused(
    pki_cms: bytes, organisation, *, content: bytes = CONTENT, at: datetime | None = None
) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as caught:
        signature_verify(cms=pki_cms, content=content, organisation=organisation, now=at or now())
    assert JAPANESE.search(caught.value.message), caught.value.message
    return caught.value


@pytest.mark.parametrize("attributes", [True, False], ids=["signed-attributes", "no-attributes"])
def test_a_card_signature_is_verified_and_gives_the_basic_four(with_crl, organisation, attributes):
    cms = with_crl.sign(CONTENT, attributes=attributes)

    result = signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now())

    assert result.attributes.name == NAME
    assert result.attributes.address == ADDRESS
    assert result.attributes.birth_date == "1985-04-01"
    assert result.attributes.sex == "2"
    assert result.attributes.source == "jpki_signature"
    assert result.revocation.startswith(f"crl:{organisation.lg_code}#")
    assert (result.signed_at is not None) is attributes
    assert result.subject.startswith("jpki:")
    identity = result.identity()
    assert (identity.ial, identity.aal) == (3, 3)


def test_pem_is_accepted_too(with_crl, organisation):
    cms = with_crl.sign(CONTENT, pem=True)
    assert signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now())


def test_a_raw_signature_wrapped_verifies(with_crl, organisation):
    """The national app's signing flow: a bare PKCS#1 signature over SHA-256 and a certificate."""
    source = with_crl.root / "raw.bin"
    source.write_bytes(CONTENT)
    signature = openssl("dgst", "-sha256", "-sign", with_crl.key, source)
    certificate = with_crl.certs["valid"].read_bytes()

    cms = signature_wrap_raw(signature=signature, certificate=certificate)

    assert signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now())
    assert refused(cms, organisation, content=OTHER).code == P.SIGNATURE_MISMATCH


def test_signature_over_another_application_is_refused(with_crl, organisation):
    assert refused(with_crl.sign(OTHER), organisation).code == P.SIGNATURE_MISMATCH
    assert (
        refused(with_crl.sign(OTHER, attributes=False), organisation).code == P.SIGNATURE_MISMATCH
    )


def test_tampered_data_is_refused(with_crl, organisation):
    assert (
        refused(with_crl.sign(CONTENT), organisation, content=CONTENT + b" ").code
        == P.SIGNATURE_MISMATCH
    )


def test_a_tampered_signature_is_refused(with_crl, organisation):
    cms = bytearray(with_crl.sign(CONTENT, attributes=False))
    cms[-5] ^= 0x01  # inside the RSA signature, the last field
    assert refused(bytes(cms), organisation).code == P.SIGNATURE_MISMATCH


def test_a_tampered_certificate_is_refused(with_crl, organisation):
    cms = with_crl.sign(CONTENT)
    original = "鎌倉".encode()
    assert original in cms
    tampered = cms.replace(original, "横浜".encode(), 1)
    assert refused(tampered, organisation).code == P.UNTRUSTED


@pytest.mark.parametrize(
    ("cert", "code"),
    [
        ("revoked", P.REVOKED),
        ("expired", P.EXPIRED),
        ("not_yet_valid", P.NOT_YET_VALID),
        ("other_issuer", P.UNTRUSTED),
        ("wrong_usage", P.WRONG_USAGE),
        ("wrong_policy", P.WRONG_POLICY),
        ("unknown_critical", P.UNTRUSTED),
        ("bmp_name", P.MALFORMED),
        ("huge", P.MALFORMED),
        ("loop", P.UNTRUSTED),
    ],
)
def test_wrong_certificates_are_refused(with_crl, organisation, cert, code):
    extra = ("-certfile", str(with_crl.root / "loop_bundle.pem")) if cert == "loop" else ()
    assert refused(with_crl.sign(CONTENT, cert, extra=extra), organisation).code == code


def test_many_names_in_the_certificate_do_not_hurt(with_crl, organisation):
    cms = with_crl.sign(CONTENT, "many_names")
    assert signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now())


def test_a_certificate_expired_by_now_is_refused(with_crl, organisation):
    cms = with_crl.sign(CONTENT, "short")
    # The CRL is fresh enough (30 days), the certificate lasts 10 days.
    assert refused(cms, organisation, at=now() + timedelta(days=12)).code == P.EXPIRED


def test_a_signing_time_in_the_future_is_refused(with_crl, organisation):
    cms = with_crl.sign(CONTENT)
    assert refused(cms, organisation, at=now() - timedelta(hours=2)).code == P.NOT_YET_VALID


def test_no_crl_imported_fails_closed(trusted, organisation):
    failure = refused(trusted.sign(CONTENT), organisation)
    assert failure.code == P.REVOCATION_UNAVAILABLE


def test_a_stale_stored_crl_fails_closed(with_crl, organisation):
    cms = with_crl.sign(CONTENT, "valid")
    assert (
        refused(cms, organisation, at=now() + timedelta(days=31)).code == P.REVOCATION_UNAVAILABLE
    )


def test_another_organisations_crl_does_not_count(with_crl, other_organisation):
    assert refused(with_crl.sign(CONTENT), other_organisation).code == P.REVOCATION_UNAVAILABLE


def test_no_trust_anchor_configured_trusts_nothing(pki, organisation, settings):
    settings.JPKI_TRUST_ANCHORS = ""
    assert refused(pki.sign(CONTENT), organisation).code == P.UNTRUSTED


# --- Hostile input -----------------------------------------------------------------------------


def _many_certificates(pki: Pki) -> bytes:
    bundle = pki.root / "many.pem"
    names = [n for n in pki.certs if n not in ("valid", "huge", "many_names")]
    assert len(names) >= 9
    bundle.write_bytes(b"".join(pki.certs[name].read_bytes() for name in names))
    return pki.sign(CONTENT, extra=("-certfile", str(bundle)))


HOSTILE = {
    "empty": lambda pki: b"",
    "garbage": lambda pki: b"\x00\x01not a signature",
    "huge": lambda pki: b"\x30\x84" + b"\x00" * (70 * 1024),
    "long length": lambda pki: b"\x30\x84\x7f\xff\xff\xff" + b"\x02\x01\x00",
    "truncated": lambda pki: pki.sign(CONTENT)[:-40],
    "half": lambda pki: pki.sign(CONTENT)[:600],
    "trailing junk": lambda pki: pki.sign(CONTENT) + b"\x00junk",
    "bad pem": lambda pki: b"-----BEGIN PKCS7-----\n!!!notbase64\n-----END PKCS7-----\n",
    "pem of a certificate": lambda pki: pki.certs["valid"].read_bytes(),
    "a certificate in DER": lambda pki: openssl(
        "x509", "-in", pki.certs["valid"], "-outform", "DER"
    ),
    "attached content": lambda pki: pki.sign(CONTENT, extra=("-nodetach",)),
    "many certificates": _many_certificates,
    "no certificate": lambda pki: pki.sign(CONTENT, extra=("-nocerts",)),
    "deep nesting": lambda pki: b"\x30\x80" * 5000,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_is_malformed_never_a_crash(with_crl, organisation, name):
    assert refused(HOSTILE[name](with_crl), organisation).code == P.MALFORMED


def test_flipped_bytes_never_crash(with_crl, organisation):
    """Flip each of a spread of bytes: every answer is a refusal (or, rarely, still valid)."""
    cms = with_crl.sign(CONTENT)
    messages = []
    for position in range(0, len(cms), 37):
        changed = bytearray(cms)
        changed[position] ^= 0xFF
        try:
            signature_verify(
                cms=bytes(changed), content=CONTENT, organisation=organisation, now=now()
            )
        except SignatureRefused as refusal:
            messages.append(refusal.message)
    assert messages
    assert all(JAPANESE.search(message) for message in messages)


def test_wrap_raw_refuses_garbage():
    with pytest.raises(SignatureRefused) as caught:
        signature_wrap_raw(signature=b"x" * 256, certificate=b"not a certificate")
    assert caught.value.code == P.MALFORMED
