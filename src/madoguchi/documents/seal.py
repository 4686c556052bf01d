"""The organisation's electronic seal (電子公印): PAdES signatures on every issued PDF.

:func:`seal_pdf` signs an issued PDF in PAdES form (pyHanko, ``/SubFilter /ETSI.CAdES.detached``,
an invisible signature field named 公印) with the organisation's key, an RFC 3161 timestamp and
the validation data for long-term validation (PAdES B-LT: the certificates and CRLs in the
document security store). :mod:`madoguchi.documents.archive` later adds archival document
timestamps (B-LTA) before the timestamp authority's certificate expires.

Where the key comes from, per organisation (the first that applies):

1. ``MADOGUCHI_SEAL_DIR/<lg_code>/key.pem`` (or ``MADOGUCHI_SEAL_DIR/default/key.pem``): a
   key file with ``cert.pem`` (the seal certificate) and ``chain.pem`` (the issuing CAs up to
   the root). An encrypted key's passphrase is read from ``key.pass`` beside it or from
   ``MADOGUCHI_SEAL_KEY_PASSPHRASE_FILE``. CRLs for the chain and for the timestamp
   authority's chain are read from ``crl/`` beside the key and from ``MADOGUCHI_SEAL_DIR/crl/``
   (the operator keeps them fresh; the platform never fetches them while issuing).
2. ``MADOGUCHI_SEAL_PKCS11_MODULE``: an HSM through PKCS#11 (pyHanko with python-pkcs11): the
   token ``MADOGUCHI_SEAL_PKCS11_TOKEN``, the key ``MADOGUCHI_SEAL_PKCS11_KEY_LABEL`` (with
   ``{lg_code}`` replaced by the organisation's code), the PIN from
   ``MADOGUCHI_SEAL_PKCS11_PIN_FILE``; the certificate from ``cert.pem`` in the organisation's
   seal directory when there is one, else from the token under the key's label.
3. Nothing configured (``make run``, tests): the installation's test seal CA
   (:mod:`madoguchi.documents.seal_testca`) — refused in production.

The timestamp authority is ``MADOGUCHI_TSA_URL`` (RFC 3161 over HTTP, optional basic auth);
unset, the platform's in-process test TSA signs with the test CA's TSA certificate (not in
production).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, crl, keys, pem, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, general, signers, timestamps
from pyhanko.sign.general import SigningError, simple_cms_attribute
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from madoguchi.core.sync import off_loop
from madoguchi.documents.seal_testca import (
    TestSealCaRefused,
    seal_test_allowed,
    seal_test_ca_ensure,
    seal_test_dir,
    seal_test_issue,
)
from madoguchi.tenants.models import Organisation

logger = logging.getLogger(__name__)


class _OfflineNotice(logging.Filter):
    """pyHanko warns on every signature that revocation data is not fetched: that is the
    design here (CRLs are given to it), not news for the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in str(record.msg)


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_OfflineNotice())

#: The signature field's name (its /T), as PDF readers list it.
SEAL_FIELD = "公印"
#: A PEM bundle larger than this is not a list of certificates.
MAX_BUNDLE_BYTES = 1024 * 1024


class SealError(Exception):
    """The seal could not be applied (key, certificate or timestamp authority unavailable).
    Its message is a Japanese sentence for staff; nothing is issued."""


@dataclass(frozen=True)
class Sealed:
    pdf: bytes
    #: The signing certificate's subject as people read it; empty when not sealed.
    sealed_by: str
    timestamped: bool
    #: When the newest timestamp needs an archival timestamp over it (B-LTA), or None.
    archive_due_at: datetime | None


@dataclass(frozen=True)
class _Seal:
    """One configured seal, built once per process and configuration."""

    signer: signers.Signer
    certificate: x509.Certificate
    #: Issuing CAs (and the root, when given).
    chain: tuple[x509.Certificate, ...]
    crls: tuple[crl.CertificateList, ...]
    #: Roots that the seal's and the timestamp's chains are validated against while signing.
    roots: tuple[x509.Certificate, ...]
    test: bool
    sealed_by: str = field(default="")


class _KeptKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner with the private key loaded once: SimpleSigner parses it again
    for every signature (about 80 ms for an RSA key, twice per seal with the size estimate)."""

    def __init__(self, *, key: PrivateKeyTypes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, PKCS1v15(), algorithm)
        if mechanism == "ecdsa" and isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algorithm))
        return bytes(super().sign_raw(data, digest_algorithm))


class _TestTimeStamper(timestamps.DummyTimeStamper):
    """pyHanko's DummyTimeStamper with its key loaded once (it parses it for every token)."""

    def __init__(self, *, key: rsa.RSAPrivateKey, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key = key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        algorithm = get_pyca_cryptography_hash(md_algorithm)
        digest = hashes.Hash(algorithm)
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                _attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                _attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._key.sign(
            signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
        )
        return signature, signed_attrs


def _attribute(name: str, value: object) -> cms.CMSAttribute:
    made: cms.CMSAttribute = simple_cms_attribute(name, value)  # type: ignore[no-untyped-call]
    return made


def _store(certificates: list[x509.Certificate]) -> SimpleCertificateStore:
    store: SimpleCertificateStore = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
        certificates
    )
    return store


_lock = threading.Lock()
_seals: dict[tuple[Any, ...], _Seal] = {}
_timestampers: dict[tuple[Any, ...], timestamps.TimeStamper] = {}
_test_timestampers: dict[tuple[Any, ...], timestamps.DummyTimeStamper] = {}


# --- reading files -----------------------------------------------------------------------------


def _fingerprint(path: Path) -> tuple[str, int, int]:
    try:
        info = path.stat()
    except OSError:
        return (str(path), 0, -1)
    return (str(path), info.st_mtime_ns, info.st_size)


def _dir_fingerprint(directory: Path) -> tuple[Any, ...]:
    """Every file's fingerprint: a CRL copied over another changes the key, too."""
    if not directory.is_dir():
        return (str(directory),)
    return tuple(_fingerprint(path) for path in sorted(directory.iterdir()))


def _certificates(data: bytes) -> list[x509.Certificate]:
    if pem.detect(data):
        return [
            x509.Certificate.load(der)
            for kind, _headers, der in pem.unarmor(data, multiple=True)
            if kind == "CERTIFICATE"
        ]
    return [x509.Certificate.load(data)] if data.strip() else []


def _read_certificates(path: Path, *, what: str) -> list[x509.Certificate]:
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise ValueError("too large")
        certificates = _certificates(path.read_bytes())
        for certificate in certificates:
            certificate.native  # parse now: a broken file fails here  # noqa: B018
    except (OSError, ValueError) as error:
        raise SealError(
            f"公印の{what}（{path}）を読めません。ファイルの場所と形式（PEM）を確かめてください。"
        ) from error
    return certificates


def _read_crls(*directories: Path) -> list[crl.CertificateList]:
    crls: list[crl.CertificateList] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            try:
                data = path.read_bytes()
                ders = (
                    [der for _kind, _h, der in pem.unarmor(data, multiple=True)]
                    if pem.detect(data)
                    else [data]
                )
                for der in ders:
                    revocation = crl.CertificateList.load(der)
                    revocation.native  # noqa: B018
                    crls.append(revocation)
            except (OSError, ValueError):
                logger.error("seal: the CRL file %s cannot be read", path)
    return crls


def _trust_file(path_text: str) -> list[x509.Certificate]:
    if not path_text:
        return []
    path = Path(path_text)
    try:
        return _read_certificates(path, what="信頼する証明書")
    except SealError:
        logger.error("seal: the trust roots in %s cannot be read", path)
        return []


def _self_signed(certificate: x509.Certificate) -> bool:
    return certificate.self_signed in {"maybe", "yes"}


def _readable_name(certificate: x509.Certificate) -> str:
    subject = certificate.subject.native
    name = subject.get("common_name") or subject.get("organization_name")
    if isinstance(name, list):
        name = " ".join(str(n) for n in name)
    return str(name or certificate.subject.human_friendly)[:300]


# --- key sources -------------------------------------------------------------------------------


def _organisation_dir(organisation: Organisation) -> Path | None:
    if not settings.SEAL_DIR:
        return None
    base = Path(settings.SEAL_DIR)
    for name in (organisation.lg_code, "default"):
        candidate = base / name
        if name and candidate.is_dir():
            return candidate
    return None


def _passphrase(directory: Path) -> bytes | None:
    for path_text in (str(directory / "key.pass"), settings.SEAL_KEY_PASSPHRASE_FILE):
        if not path_text:
            continue
        path = Path(path_text)
        if path.exists():
            try:
                return path.read_bytes().rstrip(b"\r\n")
            except OSError as error:
                raise SealError(
                    f"公印の鍵のパスフレーズ（{path}）を読めません。ファイルの権限を確かめてください。"
                ) from error
    return None


def _roots_for(chain: list[x509.Certificate]) -> list[x509.Certificate]:
    return [c for c in chain if _self_signed(c)] + _trust_file(settings.SEAL_TRUST_ROOTS)


def _file_seal(directory: Path) -> _Seal:
    key_path = directory / "key.pem"
    try:
        key = serialization.load_pem_private_key(
            key_path.read_bytes(), password=_passphrase(directory)
        )
    except (OSError, ValueError, TypeError) as error:
        raise SealError(
            f"公印の鍵（{key_path}）を読めません。鍵の形式（PEM）とパスフレーズの設定"
            "（key.pass または MADOGUCHI_SEAL_KEY_PASSPHRASE_FILE）を確かめてください。"
        ) from error
    certificates = _read_certificates(directory / "cert.pem", what="証明書")
    if not certificates:
        raise SealError(f"公印の証明書（{directory / 'cert.pem'}）がありません。")
    certificate = certificates[0]
    chain = certificates[1:]
    if (directory / "chain.pem").exists():
        chain += _read_certificates(directory / "chain.pem", what="証明書チェーン")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_info = keys.PrivateKeyInfo.load(der)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public != certificate.public_key.dump():
        raise SealError(
            f"公印の鍵（{key_path}）と証明書（cert.pem）が対になっていません。"
            "同じ鍵ペアの証明書を置いてください。"
        )
    signer = _KeptKeySigner(
        key=key,
        signing_cert=certificate,
        signing_key=key_info,
        cert_registry=_store(chain),
    )
    return _Seal(
        signer=signer,
        certificate=certificate,
        chain=tuple(chain),
        crls=tuple(_read_crls(directory / "crl", Path(settings.SEAL_DIR) / "crl")),
        roots=tuple(_roots_for(chain)),
        test=False,
        sealed_by=_readable_name(certificate),
    )


def _pkcs11_seal(organisation: Organisation, directory: Path | None) -> _Seal:
    try:
        from pyhanko.sign import pkcs11 as pyhanko_pkcs11
    except ImportError as error:
        raise SealError(
            "PKCS#11（HSM）で公印を押すには python-pkcs11 が必要ですが、インストールされていません。"
            "運用担当者に `uv add python-pkcs11`（pyHanko[pkcs11]）でのインストールを依頼してください。"
        ) from error
    pin: str | None = None
    if settings.SEAL_PKCS11_PIN_FILE:
        try:
            pin = Path(settings.SEAL_PKCS11_PIN_FILE).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SealError(
                "HSM の PIN（MADOGUCHI_SEAL_PKCS11_PIN_FILE）を読めません。ファイルの場所と権限を確かめてください。"
            ) from error
    label = settings.SEAL_PKCS11_KEY_LABEL.replace("{lg_code}", organisation.lg_code)
    certificate: x509.Certificate | None = None
    chain: list[x509.Certificate] = []
    if directory is not None and (directory / "cert.pem").exists():
        certificates = _read_certificates(directory / "cert.pem", what="証明書")
        certificate, chain = certificates[0], certificates[1:]
    if directory is not None and (directory / "chain.pem").exists():
        chain += _read_certificates(directory / "chain.pem", what="証明書チェーン")
    try:
        from pyhanko.config.pkcs11 import TokenCriteria

        session = pyhanko_pkcs11.open_pkcs11_session(
            settings.SEAL_PKCS11_MODULE,
            token_criteria=TokenCriteria(label=settings.SEAL_PKCS11_TOKEN or None),
            user_pin=pin,
        )
        signer = pyhanko_pkcs11.PKCS11Signer(
            session,
            key_label=label,
            cert_label=None if certificate is not None else label,
            signing_cert=certificate,
            ca_chain=chain,
        )
        certificate = signer.signing_cert
    except Exception as error:  # the module, token, PIN or key: all say the same to staff
        logger.error("seal: PKCS#11 signer for %s unavailable: %s", organisation.lg_code, error)
        raise SealError(
            "HSM（PKCS#11）の公印の鍵を使えません。MADOGUCHI_SEAL_PKCS11_MODULE・トークン名・"
            f"鍵のラベル（{label}）・PIN の設定と HSM の状態を確かめてください。"
        ) from error
    assert certificate is not None
    base = Path(settings.SEAL_DIR) if settings.SEAL_DIR else None
    return _Seal(
        signer=signer,
        certificate=certificate,
        chain=tuple(chain),
        crls=tuple(
            _read_crls(
                *([directory / "crl"] if directory else []), *([base / "crl"] if base else [])
            )
        ),
        roots=tuple(_roots_for(chain)),
        test=False,
        sealed_by=_readable_name(certificate),
    )


def _test_seal(organisation: Organisation, *, now: datetime) -> _Seal:
    try:
        files = seal_test_issue(
            lg_code=organisation.lg_code, organisation_name=organisation.name, now=now
        )
    except TestSealCaRefused as error:
        raise SealError(str(error)) from error
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), password=None)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    certificate = _read_certificates(files.certificate_path, what="証明書")[0]
    root = _read_certificates(files.ca_path, what="試験用CAの証明書")[0]
    revocation = crl.CertificateList.load(files.crl_path.read_bytes())
    return _Seal(
        signer=_KeptKeySigner(
            key=key,
            signing_cert=certificate,
            signing_key=keys.PrivateKeyInfo.load(der),
            cert_registry=_store([root]),
        ),
        certificate=certificate,
        chain=(root,),
        crls=(revocation,),
        roots=(root,),
        test=True,
        sealed_by=_readable_name(certificate),
    )


def _seal_for(organisation: Organisation, *, now: datetime) -> _Seal:
    """The organisation's seal, built once per configuration (files by mtime and size)."""
    directory = _organisation_dir(organisation)
    common = (
        settings.SEAL_TRUST_ROOTS,
        _fingerprint(Path(settings.SEAL_TRUST_ROOTS)) if settings.SEAL_TRUST_ROOTS else "",
    )
    if directory is not None and (directory / "key.pem").exists():
        key: tuple[Any, ...] = (
            "file",
            *common,
            *(
                _fingerprint(directory / name)
                for name in ("key.pem", "cert.pem", "chain.pem", "key.pass")
            ),
            _dir_fingerprint(directory / "crl"),
            _dir_fingerprint(Path(settings.SEAL_DIR) / "crl"),
            settings.SEAL_KEY_PASSPHRASE_FILE,
        )
        build: Callable[[], _Seal] = lambda: _file_seal(directory)  # noqa: E731
    elif settings.SEAL_PKCS11_MODULE:
        key = (
            "pkcs11",
            *common,
            settings.SEAL_PKCS11_MODULE,
            settings.SEAL_PKCS11_TOKEN,
            settings.SEAL_PKCS11_KEY_LABEL,
            organisation.lg_code,
            str(directory),
            *(
                _fingerprint(directory / name)
                for name in ("cert.pem", "chain.pem")
                if directory is not None
            ),
            _dir_fingerprint(directory / "crl") if directory is not None else "",
            _dir_fingerprint(Path(settings.SEAL_DIR) / "crl") if settings.SEAL_DIR else "",
        )
        build = lambda: _pkcs11_seal(organisation, directory)  # noqa: E731
    elif settings.SEAL_DIR:
        raise SealError(
            f"この団体（団体コード {organisation.lg_code}）の公印の鍵が設定されていません。"
            f"MADOGUCHI_SEAL_DIR/{organisation.lg_code}/ に key.pem・cert.pem・chain.pem を置いてください。"
        )
    else:
        if not seal_test_allowed():
            raise SealError(
                "公印の鍵が設定されていません。本番環境では試験用の公印CAは使えません。"
                "MADOGUCHI_SEAL_DIR または MADOGUCHI_SEAL_PKCS11_MODULE を設定してください。"
            )
        directory_test = seal_test_dir()
        crl_path = directory_test / "crl.der"
        if crl_path.exists():  # keep the CRL fresh (cheap: a stat and a parse once a process)
            seal_test_ca_ensure(now=now)
        key = (
            "test",
            *common,
            str(directory_test),
            organisation.lg_code,
            _fingerprint(directory_test / "orgs" / organisation.lg_code / "cert.pem"),
            _fingerprint(crl_path),
        )
        build = lambda: _test_seal(organisation, now=now)  # noqa: E731
    with _lock:
        seal = _seals.get(key)
    if seal is None:
        seal = build()
        with _lock:
            _seals[key] = seal
    return seal


def _forget(seal: _Seal) -> None:
    with _lock:
        for key in [key for key, kept in _seals.items() if kept is seal]:
            del _seals[key]


# --- timestamps --------------------------------------------------------------------------------


def _timestamper(*, now: datetime) -> timestamps.TimeStamper:
    """The configured TSA (built once per configuration), or the in-process test TSA."""
    if settings.TSA_URL:
        auth: tuple[str, str] | None = None
        if settings.TSA_USERNAME:
            password = ""
            if settings.TSA_PASSWORD_FILE:
                try:
                    password = Path(settings.TSA_PASSWORD_FILE).read_text("utf-8").strip()
                except OSError as error:
                    raise SealError(
                        "タイムスタンプ局のパスワード（MADOGUCHI_TSA_PASSWORD_FILE）を読めません。"
                    ) from error
            auth = (settings.TSA_USERNAME, password)
        key: tuple[Any, ...] = (
            "http",
            settings.TSA_URL,
            settings.TSA_USERNAME,
            _fingerprint(Path(settings.TSA_PASSWORD_FILE)) if settings.TSA_PASSWORD_FILE else "",
            settings.TSA_TIMEOUT,
        )
        with _lock:
            stamper = _timestampers.get(key)
        if stamper is None:
            stamper = timestamps.HTTPTimeStamper(
                settings.TSA_URL, timeout=settings.TSA_TIMEOUT, auth=auth
            )
            with _lock:
                _timestampers[key] = stamper
        return stamper
    if not seal_test_allowed():
        raise SealError(
            "タイムスタンプ局が設定されていません。MADOGUCHI_TSA_URL を設定してください"
            "（本番環境では試験用のタイムスタンプ局は使えません）。"
        )
    return test_timestamper(now=now)


def test_timestamper(*, now: datetime) -> timestamps.DummyTimeStamper:
    """The platform's TEST timestamp authority (pyHanko's DummyTimeStamper with the test CA's
    TSA certificate): for ``make run`` and tests, never production. It stamps with its own
    clock, as any TSA does."""
    directory = seal_test_ca_ensure(now=now)
    key = ("test", str(directory), _fingerprint(directory / "tsa.pem"))
    with _lock:
        stamper = _test_timestampers.get(key)
    if stamper is None:
        tsa_key = serialization.load_pem_private_key(
            (directory / "tsa.key").read_bytes(), password=None
        )
        der = tsa_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if not isinstance(tsa_key, rsa.RSAPrivateKey):  # pragma: no cover - we made it
            raise SealError("試験用タイムスタンプ局の鍵が RSA ではありません。")
        stamper = _TestTimeStamper(
            key=tsa_key,
            tsa_cert=_read_certificates(directory / "tsa.pem", what="試験用TSAの証明書")[0],
            tsa_key=keys.PrivateKeyInfo.load(der),
            certs_to_embed=_store(
                _read_certificates(directory / "ca.pem", what="試験用CAの証明書")
            ),
        )
        with _lock:
            _test_timestampers[key] = stamper
    return stamper


def timestamp_certificate(signed: cms.SignedData) -> x509.Certificate | None:
    """The TSA certificate that signed a timestamp token (RFC 3161), if the token carries it."""
    infos = signed["signer_infos"]
    if not len(infos):
        return None
    sid = infos[0]["sid"]
    for choice in signed["certificates"] or ():
        if choice.name != "certificate":
            continue
        certificate = choice.chosen
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.issuer == wanted["issuer"]
                and certificate.serial_number == wanted["serial_number"].native
            ):
                return certificate
        elif certificate.key_identifier == sid.chosen.native:
            return certificate
    return None


def archive_due(certificate: x509.Certificate | None, *, now: datetime) -> datetime | None:
    """When an archival timestamp must cover a timestamp made with ``certificate``: its expiry
    less ``MADOGUCHI_SEAL_ARCHIVE_MARGIN_DAYS``, and never earlier than a day from ``now``."""
    if certificate is None:
        return None
    expiry: datetime = certificate["tbs_certificate"]["validity"]["not_after"].native
    due = expiry.astimezone(UTC) - timedelta(days=settings.SEAL_ARCHIVE_MARGIN_DAYS)
    return max(due, now + timedelta(days=1))


_tsa_roots_cache: dict[tuple[Any, ...], tuple[x509.Certificate, ...]] = {}


def _tsa_roots() -> tuple[x509.Certificate, ...]:
    """Roots the timestamp authority's certificate may chain to, besides the seal's:
    ``MADOGUCHI_TSA_TRUST_ROOTS``, and the test CA's root while the test TSA is in use."""
    test_ca = seal_test_dir() / "ca.pem"
    test = not settings.TSA_URL and seal_test_allowed()
    key = (
        settings.TSA_TRUST_ROOTS,
        _fingerprint(Path(settings.TSA_TRUST_ROOTS)) if settings.TSA_TRUST_ROOTS else "",
        _fingerprint(test_ca) if test else "",
    )
    with _lock:
        roots = _tsa_roots_cache.get(key)
    if roots is None:
        found = _trust_file(settings.TSA_TRUST_ROOTS)
        if test and test_ca.exists():
            found += _read_certificates(test_ca, what="試験用CAの証明書")
        roots = tuple(found)
        with _lock:
            _tsa_roots_cache[key] = roots
    return roots


def _seal_context(seal: _Seal) -> ValidationContext:
    return ValidationContext(
        trust_roots=[*seal.roots, *_tsa_roots()],
        other_certs=list(seal.chain),
        crls=list(seal.crls),
        allow_fetching=False,
        # The test CA's CRL is always there: make it part of the DSS, or fail.
        revocation_mode="require" if seal.test else "soft-fail",
    )


def tsa_unavailable_message() -> str:
    return (
        "タイムスタンプ局から応答がないため、公印を押せませんでした。文書は発行されていません。"
        "しばらくしてからもう一度操作してください。続くときは運用担当者にタイムスタンプ局"
        "（MADOGUCHI_TSA_URL）の状態の確認を依頼してください。"
    )


def seal_pdf(
    pdf: bytes, *, organisation: Organisation, now: datetime, timestamp: bool = True
) -> Sealed:
    """Sign ``pdf`` with ``organisation``'s seal: PAdES, an RFC 3161 timestamp and the
    validation data (B-LT). ``timestamp=False`` leaves the timestamp out (measurements only).
    Raises :class:`SealError` (a Japanese sentence: key, certificate or TSA unavailable)."""
    seal = _seal_for(organisation, now=now)
    stamper = _timestamper(now=now) if timestamp else None
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=_seal_context(seal),
        reason="公印（電子署名）",
        name=seal.sealed_by,
    )
    signer = signers.PdfSigner(
        metadata,
        signer=seal.signer,
        timestamper=stamper,
        new_field_spec=fields.SigFieldSpec(sig_field_name=SEAL_FIELD),
    )
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        output = off_loop(lambda: signer.sign_pdf(writer))
    except TimestampRequestError as error:
        logger.error("seal: the timestamp authority did not answer: %s", error)
        raise SealError(tsa_unavailable_message()) from error
    except SigningError as error:
        if isinstance(error.__cause__, TimestampRequestError) or "imestamp" in str(error):
            logger.error("seal: timestamp failed: %s", error)
            raise SealError(tsa_unavailable_message()) from error
        logger.error("seal: signing failed for %s: %s", organisation.lg_code, error)
        raise SealError(
            "公印の証明書を検証できないため、公印を押せませんでした。文書は発行されていません。"
            "証明書の有効期限・証明書チェーン・失効情報（CRL）の設定を運用担当者に確認してください。"
        ) from error
    except Exception as error:  # an HSM session gone, a PDF pyHanko cannot read, …
        logger.error("seal: the PDF could not be signed: %s", type(error).__name__)
        _forget(seal)  # built again at the next issue (a new HSM session)
        raise SealError(
            "PDF に公印を押せませんでした。文書は発行されていません。しばらくしてからもう一度"
            "操作してください。続くときは運用担当者に連絡してください。"
        ) from error
    sealed = output.getvalue()
    due = None
    if stamper is not None:
        embedded = PdfFileReader(BytesIO(sealed)).embedded_regular_signatures[-1]
        attrs = embedded.signer_info["unsigned_attrs"]
        token = next(
            (
                a["values"][0]
                for a in (attrs or ())
                if a["type"].native == "signature_time_stamp_token"
            ),
            None,
        )
        if token is not None:
            due = archive_due(timestamp_certificate(token["content"]), now=now)
    return Sealed(
        pdf=sealed, sealed_by=seal.sealed_by, timestamped=stamper is not None, archive_due_at=due
    )


def archive_context(organisation: Organisation, *, now: datetime) -> ValidationContext:
    """The validation context an archival timestamp is made with (the seal's roots, chain and
    CRLs; offline)."""
    return _seal_context(_seal_for(organisation, now=now))


def seal_timestamper(*, now: datetime) -> timestamps.TimeStamper:
    """The timestamp authority seals and archival timestamps use. Raises :class:`SealError`."""
    return _timestamper(now=now)


def seal_trust_roots() -> list[x509.Certificate]:
    """The roots the platform trusts for its own seals: the test CA's root while the test CA
    is in use (never in production), and the certificates in ``MADOGUCHI_SEAL_TRUST_ROOTS``.
    Used by verification to say "issued by this platform". Read again when the files change."""
    test = seal_test_allowed() and not settings.SEAL_DIR and not settings.SEAL_PKCS11_MODULE
    ca_path = seal_test_dir() / "ca.pem"
    key = (
        _fingerprint(ca_path) if test else "",
        settings.SEAL_TRUST_ROOTS,
        _fingerprint(Path(settings.SEAL_TRUST_ROOTS)) if settings.SEAL_TRUST_ROOTS else "",
    )
    with _lock:
        kept = _trust_roots_cache.get(key)
    if kept is None:
        roots: list[x509.Certificate] = []
        if test and ca_path.exists():
            roots += _read_certificates(ca_path, what="試験用CAの証明書")
        roots += _trust_file(settings.SEAL_TRUST_ROOTS)
        kept = tuple(roots)
        with _lock:
            _trust_roots_cache[key] = kept
    return list(kept)


_trust_roots_cache: dict[tuple[Any, ...], tuple[x509.Certificate, ...]] = {}


def tsa_trust_roots() -> list[x509.Certificate]:
    """The roots a timestamp authority's certificate may chain to besides the seal's:
    ``MADOGUCHI_TSA_TRUST_ROOTS``, and the test CA's root while the test TSA is in use.
    Verification trusts a timestamp only through these or the seal's roots."""
    return list(_tsa_roots())


def seal_certificate_expiry(organisation: Organisation) -> datetime | None:
    """When the seal certificate of ``organisation`` expires, read from its ``cert.pem`` (the
    configured one under ``MADOGUCHI_SEAL_DIR``, else the installation's test seal if one was
    issued). None when there is no certificate file yet or it cannot be read: nothing is
    generated, no key is loaded (the group operators' overview asks for every member)."""
    directory = _organisation_dir(organisation)
    if directory is not None:
        path = directory / "cert.pem"
    elif settings.SEAL_DIR or settings.SEAL_PKCS11_MODULE:
        return None
    else:
        path = seal_test_dir() / "orgs" / organisation.lg_code / "cert.pem"
    if not path.is_file():
        return None
    try:
        certificates = _read_certificates(path, what="証明書")
    except SealError:
        return None
    if not certificates:
        return None
    expiry: datetime = certificates[0]["tbs_certificate"]["validity"]["not_after"].native
    return expiry
