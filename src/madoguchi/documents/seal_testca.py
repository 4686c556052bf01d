"""The installation's TEST seal CA (試験用公印CA): for ``make run`` and tests, never production.

It lives in ``<MADOGUCHI_DATA_DIR>/seal-test/``:

- ``ca.key`` (PKCS#8 PEM, 0600) and ``ca.pem``: the root, RSA-2048, named
  ``CN=Madoguchi 試験用公印CA（本番では信頼されません）`` so that nobody can take it for a real CA;
- ``tsa.key`` and ``tsa.pem``: the test timestamp authority's certificate (extended key usage
  timeStamping), issued by the root; the platform's in-process test TSA signs with it;
- ``crl.der``: the root's CRL (90 days, re-signed when fewer than 30 remain);
- ``orgs/<lg_code>/key.pem`` and ``cert.pem``: one seal certificate per organisation, issued on
  its first document, with the organisation's name.

Everything is made once: the CA in a temporary directory renamed into place (a concurrent
creator's CA wins), organisations' certificates under an exclusive file lock.
"""

from __future__ import annotations

import fcntl
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from madoguchi.core.files import write_private

# (X.500 names are at most 64 bytes in UTF-8: half-width parentheses.)
CA_COMMON_NAME = "Madoguchi 試験用公印CA(本番では信頼されません)"
TSA_COMMON_NAME = "Madoguchi 試験用TSA(本番では信頼されません)"
CA_YEARS = 20
TSA_YEARS = 10
SEAL_YEARS = 5
#: Certificates are backdated: the demo issues documents dated days and weeks ago.
BACKDATE = timedelta(days=365)
CRL_DAYS = 90
CRL_REFRESH_DAYS = 30


class TestSealCaRefused(RuntimeError):
    """The test CA cannot be used here (production)."""


@dataclass(frozen=True)
class TestSeal:
    """One organisation's test seal: key and certificate files, and the CA's."""

    key_path: Path
    certificate_path: Path
    ca_path: Path
    crl_path: Path


def seal_test_dir() -> Path:
    return Path(settings.DATA_DIR) / "seal-test"


def seal_test_allowed() -> bool:
    return not settings.PRODUCTION


def _refuse_in_production() -> None:
    if not seal_test_allowed():
        raise TestSealCaRefused(
            "本番環境（MADOGUCHI_ENV=production）では試験用の公印CAは使えません。"
            "MADOGUCHI_SEAL_DIR または MADOGUCHI_SEAL_PKCS11_MODULE で団体の公印の鍵を設定してください。"
        )


def _write(path: Path, data: bytes) -> None:
    write_private(path, data)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock over the test CA's directory (processes and threads alike)."""
    with open(directory / ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fit(text: str, limit: int = 64) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (an X.500 name attribute's bound)."""
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - we wrote it
        raise TestSealCaRefused(f"{path} は RSA の秘密鍵ではありません。")
    return key


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    *,
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    ca: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    now: datetime,
    years: int,
    timestamping: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if timestamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(ca_key, hashes.SHA256())


def _write_crl(directory: Path, *, now: datetime) -> None:
    key = _load_key(directory / "ca.key")
    ca = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    number_path = directory / "crl_number"
    number = int(number_path.read_text()) + 1 if number_path.exists() else 1
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        # Backdated like the certificates: documents dated in the past validate against it.
        .last_update(min(now, ca.not_valid_before_utc))
        .next_update(now + timedelta(days=CRL_DAYS))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    _write(directory / "crl.der", crl.public_bytes(serialization.Encoding.DER))
    _write(number_path, str(number).encode())


def _build_ca(building: Path, *, now: datetime) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, "Madoguchi TEST seal CA - never trusted in production"
            ),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME, f"installation {secrets.token_hex(4)}"
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = _issue(
        subject=x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi TEST TSA"),
                x509.NameAttribute(NameOID.COMMON_NAME, TSA_COMMON_NAME),
            ]
        ),
        key=tsa_key,
        ca=ca,
        ca_key=key,
        now=now,
        years=TSA_YEARS,
        timestamping=True,
    )
    _write(building / "ca.key", _pem_key(key))
    _write(building / "tsa.key", _pem_key(tsa_key))
    _write(building / "tsa.pem", tsa.public_bytes(serialization.Encoding.PEM))
    (building / "orgs").mkdir(mode=0o700)
    # The certificate last: its presence marks the CA made.
    _write(building / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    _write_crl(building, now=now)


def seal_test_ca_ensure(*, now: datetime) -> Path:
    """Create the test seal CA once (idempotent), keep its CRL fresh; return its directory.
    Raises :class:`TestSealCaRefused` in production."""
    _refuse_in_production()
    directory = seal_test_dir()
    if not (directory / "ca.pem").exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".seal-test."))
        try:
            _build_ca(building, now=now)
            building.rename(directory)  # atomic: a concurrent creator's CA wins, ours goes
        except OSError:
            if not (directory / "ca.pem").exists():
                raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
    crl = x509.load_der_x509_crl((directory / "crl.der").read_bytes())
    next_update = crl.next_update_utc
    if next_update is None or next_update - now <= timedelta(days=CRL_REFRESH_DAYS):
        with _locked(directory):
            crl = x509.load_der_x509_crl((directory / "crl.der").read_bytes())
            next_update = crl.next_update_utc
            if next_update is None or next_update - now <= timedelta(days=CRL_REFRESH_DAYS):
                _write_crl(directory, now=now)
    return directory


def _safe_code(lg_code: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,32}", lg_code):
        raise TestSealCaRefused("団体コードが正しくないため、試験用の公印を作れません。")
    return lg_code


def seal_test_issue(*, lg_code: str, organisation_name: str, now: datetime) -> TestSeal:
    """The organisation's test seal (key and certificate), issued on first use."""
    directory = seal_test_ca_ensure(now=now)
    out = directory / "orgs" / _safe_code(lg_code)
    seal = TestSeal(
        key_path=out / "key.pem",
        certificate_path=out / "cert.pem",
        ca_path=directory / "ca.pem",
        crl_path=directory / "crl.der",
    )
    if seal.certificate_path.exists():
        return seal
    with _locked(directory):
        if seal.certificate_path.exists():
            return seal
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca_key = _load_key(directory / "ca.key")
        ca = x509.load_pem_x509_certificate(seal.ca_path.read_bytes())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = organisation_name.strip() or lg_code
        certificate = _issue(
            subject=x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(name)),
                    x509.NameAttribute(
                        NameOID.ORGANIZATIONAL_UNIT_NAME, "試験用公印（本番では使えません）"
                    ),
                    x509.NameAttribute(NameOID.COMMON_NAME, _fit(name, 40) + " 公印（試験用）"),
                ]
            ),
            key=key,
            ca=ca,
            ca_key=ca_key,
            now=now,
            years=SEAL_YEARS,
        )
        _write(seal.key_path, _pem_key(key))
        _write(seal.certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
    return seal
