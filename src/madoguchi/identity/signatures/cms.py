"""Reading and writing the CMS SignedData a My Number card signature comes in (RFC 5652).

What the card produces, and what we accept: *detached* SignedData (no content inside), one
signer, digest SHA-256, signature RSA PKCS#1 v1.5 (algorithm ``rsaEncryption`` or
``sha256WithRSAEncryption``), the signer's certificate inside (and possibly its chain),
DER (PEM ``-----BEGIN PKCS7-----`` / ``CMS`` is unwrapped first). With signed attributes
(``openssl cms -sign`` and most libraries), the signature covers their DER and they must hold
``contentType`` = data and ``messageDigest`` = SHA-256 of the content; ``signingTime`` is read
when present. Without signed attributes (the national authentication app's signing flow
returns a bare PKCS#1 signature over SHA-256 of the content, which
:func:`wrap_raw` puts into this form), the signature covers the content itself.

Everything is bounded before parsing: :data:`MAX_CMS_BYTES`, :data:`MAX_CERTIFICATES`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, pem, x509

MAX_CMS_BYTES = 64 * 1024
MAX_CERTIFICATES = 8
RSA_ALGORITHMS = frozenset({"rsassa_pkcs1v15", "sha256_rsa"})


class CmsError(ValueError):
    """Not a CMS SignedData of the accepted form (the message says why, in English, for logs)."""


@dataclass(frozen=True)
class ParsedSignature:
    signer: x509.Certificate
    others: tuple[x509.Certificate, ...]
    signature: bytes
    #: The bytes the RSA signature covers: the DER signed attributes, or the content.
    signed_bytes_digest: bytes
    signed_at: datetime | None
    #: The messageDigest attribute (with signed attributes), or the content digest.
    content_digest: bytes
    has_signed_attributes: bool


def unarmor(data: bytes) -> bytes:
    if data.lstrip()[:11] == b"-----BEGIN ":
        kind, _headers, der = pem.unarmor(data.strip())
        if kind not in ("PKCS7", "CMS", "PKCS #7 SIGNED DATA"):
            raise CmsError(f"PEM of type {kind!r}, not PKCS7/CMS")
        return bytes(der)
    return bytes(data)


def _signed_attributes_der(signed_attrs: cms.CMSAttributes) -> bytes:
    # The signature covers the attributes with the universal SET tag, not the [0] IMPLICIT
    # tag they carry inside SignerInfo (RFC 5652, 5.4).
    encoded = signed_attrs.dump()
    return b"\x31" + bytes(encoded[1:])


def _attribute(signed_attrs: cms.CMSAttributes, name: str) -> list[object]:
    values: list[object] = []
    for attribute in signed_attrs:
        if attribute["type"].native == name:
            values.extend(attribute["values"])
    return values


def parse(data: bytes, *, content_digest: bytes) -> ParsedSignature:
    """Parse a detached SignedData; ``content_digest`` is SHA-256 of the content it signs.

    Raises CmsError for anything that is not the accepted form (any parser exception
    included); ValueError ``"digest"`` as :class:`DigestMismatch` when the messageDigest
    attribute does not match.
    """
    der = unarmor(data)
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise CmsError("not SignedData")
    signed: cms.SignedData = info["content"]
    encapsulated = signed["encap_content_info"]
    if encapsulated["content_type"].native != "data":
        raise CmsError("encapsulated content is not id-data")
    if encapsulated["content"].native is not None:
        raise CmsError("not detached: the content is inside")
    certificates = signed["certificates"]
    if len(certificates) > MAX_CERTIFICATES:
        raise CmsError(f"more than {MAX_CERTIFICATES} certificates")
    certs: list[x509.Certificate] = []
    for choice in certificates:
        if choice.name != "certificate":
            raise CmsError(f"certificate choice {choice.name}")
        certs.append(choice.chosen)
    signer_infos = signed["signer_infos"]
    if len(signer_infos) != 1:
        raise CmsError(f"{len(signer_infos)} signers, not one")
    signer_info: cms.SignerInfo = signer_infos[0]
    if signer_info["digest_algorithm"]["algorithm"].native != "sha256":
        raise CmsError("digest is not SHA-256")
    if signer_info["signature_algorithm"]["algorithm"].native not in RSA_ALGORITHMS:
        raise CmsError("signature is not RSA PKCS#1 v1.5")
    signer = _find_signer(signer_info["sid"], certs)
    signature = bytes(signer_info["signature"].native)
    signed_attrs = signer_info["signed_attrs"]
    if signed_attrs.native is None or len(signed_attrs) == 0:
        return ParsedSignature(
            signer=signer,
            others=tuple(c for c in certs if c is not signer),
            signature=signature,
            signed_bytes_digest=content_digest,
            signed_at=None,
            content_digest=content_digest,
            has_signed_attributes=False,
        )
    content_types = _attribute(signed_attrs, "content_type")
    digests = _attribute(signed_attrs, "message_digest")
    times = _attribute(signed_attrs, "signing_time")
    if len(content_types) != 1 or content_types[0].native != "data":  # type: ignore[attr-defined]
        raise CmsError("contentType attribute missing or not id-data")
    if len(digests) != 1:
        raise CmsError("messageDigest attribute missing")
    if len(times) > 1:
        raise CmsError("several signingTime attributes")
    signed_at = times[0].native if times else None  # type: ignore[attr-defined]
    if signed_at is not None and not isinstance(signed_at, datetime):
        raise CmsError("signingTime is not a time")
    return ParsedSignature(
        signer=signer,
        others=tuple(c for c in certs if c is not signer),
        signature=signature,
        signed_bytes_digest=hashlib.sha256(_signed_attributes_der(signed_attrs)).digest(),
        signed_at=signed_at,
        content_digest=bytes(digests[0].native),  # type: ignore[attr-defined]
        has_signed_attributes=True,
    )


def _find_signer(sid: cms.SignerIdentifier, certs: list[x509.Certificate]) -> x509.Certificate:
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        matching = [c for c in certs if c.serial_number == serial]
        # The same DER first (the usual case, and cheap); then X.500 name comparison, which
        # asn1crypto does with string preparation (slow, but rare).
        issuer_der = issuer.dump()
        for certificate in matching:
            if certificate.issuer.dump() == issuer_der:
                return certificate
        for certificate in matching:
            if certificate.issuer == issuer:
                return certificate
    elif sid.name == "subject_key_identifier":
        wanted = sid.chosen.native
        for certificate in certs:
            if certificate.key_identifier == wanted:
                return certificate
    raise CmsError("the signer's certificate is not in the CMS")


def build(
    *,
    certificate_der: bytes,
    signature: bytes,
    signed_attrs: cms.CMSAttributes | None = None,
    chain_der: tuple[bytes, ...] = (),
) -> bytes:
    """A detached SignedData (DER) with one RSA/SHA-256 signer identified by issuer and serial."""
    certificate = x509.Certificate.load(certificate_der)
    signer_info = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
                )
            }
        ),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
        "signature": signature,
    }
    if signed_attrs is not None:
        signer_info["signed_attrs"] = signed_attrs
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data"},
            "certificates": [
                certificate,
                *(x509.Certificate.load(d) for d in chain_der),
            ],
            "signer_infos": [cms.SignerInfo(signer_info)],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def signed_attributes(*, content_digest: bytes, signed_at: datetime) -> cms.CMSAttributes:
    return cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute(
                {"type": "signing_time", "values": [cms.Time({"utc_time": signed_at})]}
            ),
            cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
        ]
    )


def signed_attributes_der(attrs: cms.CMSAttributes) -> bytes:
    return _signed_attributes_der(attrs)


__all__ = [
    "MAX_CERTIFICATES",
    "MAX_CMS_BYTES",
    "CmsError",
    "ParsedSignature",
    "build",
    "parse",
    "signed_attributes",
    "signed_attributes_der",
    "unarmor",
]
