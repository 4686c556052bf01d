"""The J-LIS signing certificate profile (署名用電子証明書), as far as this platform relies on it.

Public facts this module is built on, and where we had to choose:

- Issuer: the J-LIS signing CA, ``C=JP, O=JPKI, OU=JPKI for digital signature,
  OU=Japan Agency for Local Authority Information Systems``. We do not match the DN: trust
  comes from the configured anchors (``MADOGUCHI_JPKI_TRUST_ANCHORS``), whatever their names,
  so a CA renewal (new key, same or new DN) needs only a new PEM bundle.
- Keys: RSA-2048, ``sha256WithRSAEncryption``. *Choice:* we require RSA of at least 2048
  bits (not exactly 2048), so a future larger key is accepted.
- Key usage: the profile marks it critical with ``digitalSignature`` and ``nonRepudiation``.
  *Choice:* we require both bits and refuse a certificate that may sign certificates or CRLs
  (``keyCertSign``, ``cRLSign``): a CA or an authentication certificate is not a signing card.
- Certificate policy: ``1.2.392.200149.8.5.1.1.20`` (署名用). The authentication certificate
  (利用者証明用電子証明書) has another policy and no 基本4情報, and is refused.
- 基本4情報: ``subjectAltName`` ``otherName`` entries whose value is a UTF8String:
  ``1.2.392.200149.8.5.5.1`` name, ``.2`` name in substitute characters (代替文字),
  ``.3`` sex, ``.4`` date of birth, ``.5`` address, ``.6`` address in substitute characters.
  *Choices:* the date of birth is read as ``YYYYMMDD`` (the card's 西暦 form; ``YYYY-MM-DD`` is
  accepted too) and stored ISO; sex is kept as the code ("1" 男, "2" 女, "3" その他); other
  otherName types are ignored; a value that is not a UTF8String, or a repeated type, makes the
  certificate malformed; each value is limited to 400 characters. A signing certificate without
  a name or without a date of birth is refused: the platform takes the certificate for who the
  applicant is, and these are what staff compare.
"""

from __future__ import annotations

import re
from datetime import date

from asn1crypto import parser, x509

from madoguchi.identity.assurance import IdentityMethod, VerifiedAttributes

#: The signing certificate policy (署名用電子証明書).
SIGNING_POLICY = "1.2.392.200149.8.5.1.1.20"

#: The J-LIS signing CA's name, as published (for the test PKI and the documentation).
JLIS_SIGNING_CA_NAME = (
    ("country_name", "JP"),
    ("organization_name", "JPKI"),
    ("organizational_unit_name", "JPKI for digital signature"),
    ("organizational_unit_name", "Japan Agency for Local Authority Information Systems"),
)

OID_NAME = "1.2.392.200149.8.5.5.1"
OID_NAME_SUBSTITUTE = "1.2.392.200149.8.5.5.2"
OID_SEX = "1.2.392.200149.8.5.5.3"
OID_BIRTH_DATE = "1.2.392.200149.8.5.5.4"
OID_ADDRESS = "1.2.392.200149.8.5.5.5"
OID_ADDRESS_SUBSTITUTE = "1.2.392.200149.8.5.5.6"

#: otherName type → VerifiedAttributes field.
BASIC_FOUR = {
    OID_NAME: "name",
    OID_NAME_SUBSTITUTE: "name_substitute",
    OID_SEX: "sex",
    OID_BIRTH_DATE: "birth_date",
    OID_ADDRESS: "address",
    OID_ADDRESS_SUBSTITUTE: "address_substitute",
}

REQUIRED_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})
FORBIDDEN_KEY_USAGE = frozenset({"key_cert_sign", "crl_sign"})
MIN_RSA_BITS = 2048
MAX_VALUE_CHARS = 400
SEX_CODES = frozenset({"1", "2", "3"})

_BIRTH = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


class ProfileError(ValueError):
    """The certificate does not follow the signing certificate profile (the message says how)."""


def birth_date_iso(value: str) -> str:
    """``19850401`` or ``1985-04-01`` → ``1985-04-01``; anything else raises ProfileError."""
    match = _BIRTH.match(value.strip())
    if not match:
        raise ProfileError(f"date of birth {value[:20]!r} is not YYYYMMDD")
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        raise ProfileError(f"date of birth {value[:20]!r} is not a date") from None


def has_signing_key_usage(certificate: x509.Certificate) -> bool:
    usage = certificate.key_usage_value
    if usage is None:
        return False
    bits = set(usage.native)
    return bits >= REQUIRED_KEY_USAGE and not (bits & FORBIDDEN_KEY_USAGE)


def has_signing_policy(certificate: x509.Certificate) -> bool:
    policies = certificate.certificate_policies_value
    if policies is None:
        return False
    return any(p["policy_identifier"].dotted == SIGNING_POLICY for p in policies)


def basic_four(certificate: x509.Certificate) -> VerifiedAttributes:
    """The 基本4情報 in the certificate's subjectAltName. Raises ProfileError."""
    san = certificate.subject_alt_name_value
    if san is None:
        raise ProfileError("no subjectAltName")
    found: dict[str, str] = {}
    for general_name in san:
        if general_name.name != "other_name":
            continue
        other = general_name.chosen
        field = BASIC_FOUR.get(other["type_id"].dotted)
        if field is None:
            continue
        if field in found:
            raise ProfileError(f"{field} appears twice")
        value = other["value"]
        # [0] EXPLICIT ANY: the inner value must be a UTF8String (universal, primitive, 12).
        outer = parser.parse(value.dump(), strict=True)
        if outer[0] != 2 or outer[2] != 0:
            raise ProfileError(f"{field} is not [0] EXPLICIT")
        inner = parser.parse(outer[4], strict=True)
        if inner[0] != 0 or inner[1] != 0 or inner[2] != 12:
            raise ProfileError(f"{field} is not a UTF8String")
        text = inner[4].decode("utf-8")
        if not isinstance(text, str) or len(text) > MAX_VALUE_CHARS:
            raise ProfileError(f"{field} is too long")
        found[field] = text
    if not found.get("name") or not found.get("birth_date"):
        raise ProfileError("no name or date of birth")
    found["birth_date"] = birth_date_iso(found["birth_date"])
    if found.get("sex", "") and found["sex"] not in SEX_CODES:
        raise ProfileError("sex is not 1, 2 or 3")
    return VerifiedAttributes(source=IdentityMethod.JPKI_SIGNATURE.value, **found)
