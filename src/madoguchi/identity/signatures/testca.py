"""The installation's test CA and test cards (``madoguchi card …``): never in production.

The test CA lives in ``<MADOGUCHI_DATA_DIR>/jpki-test/``:

- ``ca.key`` (PKCS#8 PEM, 0600) and ``ca.pem``: RSA-2048, made once per installation. Its
  name is ``C=JP, O=JPKI, OU=JPKI for digital signature, OU=Madoguchi test CA (not J-LIS),
  CN=<installation id>``: close to the J-LIS signing CA's, but never the same, so a test
  certificate cannot be mistaken for a real one.
- ``crl.der``: its CRL (valid for 90 days, re-signed when less than 30 remain, by
  :func:`test_ca_ensure`, which the demo bootstrap and every ``card`` command call), and
  ``revoked.json``, the serials it lists.
- ``cards/<name>/card.key`` (PKCS#8 PEM) and ``card.pem``: a test card's signing key and
  JPKI-profile signing certificate (see :mod:`.profile`). Any CMS tool can sign with them::

      openssl cms -sign -binary -in canonical.json -signer card.pem -inkey card.key \\
          -outform DER -md sha256 -out sig.p7s
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from madoguchi.core.files import write_private
from madoguchi.identity.signatures import cms as cms_format
from madoguchi.identity.signatures import profile
from madoguchi.identity.signatures.trust import test_ca_allowed, test_ca_dir

CRL_DAYS = 90
CRL_REFRESH_DAYS = 30
CA_YEARS = 20


class TestCaRefused(RuntimeError):
    """The test CA cannot be used here (production, or a card directory that is not a card)."""


@dataclass(frozen=True)
class Person:
    """The 基本4情報 of a test card. The default is the demo person."""

    name: str = "鎌倉　花子"
    address: str = "神奈川県鎌倉市御成町１８番１０号"
    birth_date: str = "1985-04-01"
    sex: str = "2"
    name_substitute: str = ""
    address_substitute: str = ""


@dataclass(frozen=True)
class Card:
    directory: Path
    key_path: Path
    certificate_path: Path
    serial: int
    not_before: datetime
    not_after: datetime


def _refuse_in_production() -> None:
    if not test_ca_allowed():
        raise TestCaRefused(
            "本番環境（MADOGUCHI_ENV=production）ではテスト用の認証局は使えません。"
            "実際のマイナンバーカードで署名してください。"
        )


def _write(path: Path, data: bytes) -> None:
    write_private(path, data)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TestCaRefused(f"{path} は RSA の秘密鍵ではありません。")
    return key


def _ca_name(installation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Madoguchi test CA (not J-LIS)"),
            x509.NameAttribute(NameOID.COMMON_NAME, installation),
        ]
    )


def _revoked(directory: Path) -> dict[str, str]:
    path = directory / "revoked.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def _write_crl(directory: Path, *, now: datetime) -> None:
    key = _load_key(directory / "ca.key")
    ca = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    number_path = directory / "crl_number"
    number = int(number_path.read_text()) + 1 if number_path.exists() else 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now)
        .next_update(now + timedelta(days=CRL_DAYS))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
    )
    for serial, revoked_at in sorted(_revoked(directory).items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial))
            .revocation_date(datetime.fromisoformat(revoked_at))
            .build()
        )
    crl = builder.sign(key, hashes.SHA256())
    _write(directory / "crl.der", crl.public_bytes(serialization.Encoding.DER))
    _write(number_path, str(number).encode())


def test_ca_ensure(*, now: datetime) -> Path:
    """Create the test CA once (idempotent) and keep its CRL fresh; return its directory."""
    _refuse_in_production()
    directory = test_ca_dir()
    if not (directory / "ca.pem").exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".jpki-test."))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = _ca_name(f"Madoguchi installation {secrets.token_hex(4)}")
        ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # Backdated a year: the demo's applications are dated days and weeks ago, and
            # their signatures are checked at that time.
            .not_valid_before(now - timedelta(days=365))
            .not_valid_after(now + timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write(building / "ca.key", _pem_key(key))
        _write(building / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
        _write(building / "revoked.json", b"{}")
        try:
            building.rename(directory)  # atomic: a concurrent creator's CA wins, ours goes
        except OSError:
            if directory.is_dir() and not (directory / "ca.pem").exists():
                # The directory is there without a CA (cards were put in it first): move the
                # new CA in, key and revocation list before the certificate that marks it made.
                for part in ("ca.key", "revoked.json", "ca.pem"):
                    (building / part).replace(directory / part)
            shutil.rmtree(building, ignore_errors=True)
            if not (directory / "ca.pem").exists():
                raise
    crl_path = directory / "crl.der"
    if crl_path.exists():
        crl = x509.load_der_x509_crl(crl_path.read_bytes())
        next_update = crl.next_update_utc
        if next_update is not None and next_update - now > timedelta(days=CRL_REFRESH_DAYS):
            return directory
    _write_crl(directory, now=now)
    return directory


def _other_name(oid: str, value: str) -> x509.OtherName:
    return x509.OtherName(x509.ObjectIdentifier(oid), core.UTF8String(value).dump())


def card_issue(
    *,
    out: Path,
    person: Person,
    now: datetime,
    days: int = 365 * 5,
    not_before: datetime | None = None,
) -> Card:
    """Issue a test card into ``out`` (``card.key``, ``card.pem``), replacing one there."""
    directory = test_ca_ensure(now=now)
    ca_key = _load_key(directory / "ca.key")
    ca = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    birth = date.fromisoformat(person.birth_date)
    if person.sex not in profile.SEX_CODES:
        raise TestCaRefused("性別は 1（男）、2（女）、3（その他）のいずれかです。")
    start = not_before or (now - timedelta(minutes=5))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = [
        _other_name(profile.OID_NAME, person.name),
        _other_name(profile.OID_SEX, person.sex),
        _other_name(profile.OID_BIRTH_DATE, birth.strftime("%Y%m%d")),
        _other_name(profile.OID_ADDRESS, person.address),
    ]
    if person.name_substitute:
        names.append(_other_name(profile.OID_NAME_SUBSTITUTE, person.name_substitute))
    if person.address_substitute:
        names.append(_other_name(profile.OID_ADDRESS_SUBSTITUTE, person.address_substitute))
    serial = x509.random_serial_number()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(12).upper()),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
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
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(profile.SIGNING_POLICY), None)]
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(out / "card.key", _pem_key(key))
    _write(out / "card.pem", certificate.public_bytes(serialization.Encoding.PEM))
    return Card(
        directory=out,
        key_path=out / "card.key",
        certificate_path=out / "card.pem",
        serial=serial,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def _card_files(card: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    try:
        key = _load_key(card / "card.key")
        certificate = x509.load_pem_x509_certificate((card / "card.pem").read_bytes())
    except (OSError, ValueError) as error:
        raise TestCaRefused(
            f"{card} にカード（card.key と card.pem）がありません。"
            "madoguchi card issue --out で作ってください。"
        ) from error
    return key, certificate


def card_sign(
    *, card: Path, content: bytes, now: datetime, signed_attributes: bool = True
) -> bytes:
    """Sign ``content`` the way the card would: detached CMS, SHA-256, RSA PKCS#1 v1.5, DER."""
    key, certificate = _card_files(card)
    digest = hashlib.sha256(content).digest()
    certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    if not signed_attributes:
        signature = key.sign(content, padding.PKCS1v15(), hashes.SHA256())
        return cms_format.build(certificate_der=certificate_der, signature=signature)
    attrs = cms_format.signed_attributes(
        content_digest=digest, signed_at=now.astimezone(UTC).replace(microsecond=0)
    )
    signature = key.sign(
        cms_format.signed_attributes_der(attrs), padding.PKCS1v15(), hashes.SHA256()
    )
    return cms_format.build(
        certificate_der=certificate_der, signature=signature, signed_attrs=attrs
    )


def card_revoke(*, card: Path, now: datetime) -> int:
    """Put the card on the test CA's CRL (re-signed now); returns its serial."""
    directory = test_ca_ensure(now=now)
    _key, certificate = _card_files(card)
    ca = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    if certificate.issuer != ca.subject:
        raise TestCaRefused(
            f"{card} のカードはこのインストールのテスト用認証局が発行したものではありません。"
        )
    revoked = _revoked(directory)
    revoked[str(certificate.serial_number)] = now.astimezone(UTC).isoformat()
    _write(directory / "revoked.json", json.dumps(revoked, indent=1).encode())
    _write_crl(directory, now=now)
    return certificate.serial_number


def demo_card_dir() -> Path:
    return test_ca_dir() / "cards" / "demo"


def demo_card_ensure(*, now: datetime) -> Path | None:
    """The demo person's card for ``make run`` (issued once); None in production."""
    if not test_ca_allowed():
        return None
    directory = demo_card_dir()
    test_ca_ensure(now=now)
    if not (directory / "card.pem").exists():
        card_issue(out=directory, person=Person(), now=now, not_before=now - timedelta(days=90))
    return directory
