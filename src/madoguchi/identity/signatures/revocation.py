"""Is a signing certificate revoked? A plugin per organisation, failing closed.

Two implementations, registered in :data:`revocation_checkers` under the values of
:class:`~madoguchi.identity.models.JpkiRevocationMethod`:

``crl``
    The organisation's imported CRL of the certificate's issuer (bodies notified to J-LIS as
    署名検証者 receive the CRL and import it with ``madoguchi jpki crl-import`` or the console).
    No CRL for the issuer, or one past its ``nextUpdate``, answers REVOCATION_UNAVAILABLE: an
    old list may miss a card lost yesterday. *Choice:* only CRLs signed by a trust anchor can be
    imported (the J-LIS signing CA issues the cards itself), so a card under an intermediate CA
    cannot be checked this way and is refused (fail closed); the API can still check it.
    Whether an intermediate CA itself was revoked (an ARL) is not checked.

``api``
    The platform operator's verification API (``MADOGUCHI_JPKI_VERIFY_URL``, bearer token
    ``MADOGUCHI_JPKI_VERIFY_TOKEN``). Request, ``POST`` JSON::

        {"certificate": "<base64 DER>", "signature": "<base64>",
         "digest": "<base64 SHA-256 of the bytes the signature covers>",
         "digest_algorithm": "sha256"}

    Response JSON ``{"result": "OK" | "SIGNATURE_MISMATCH" | "REVOKED" | "EXPIRED"}``.
    Timeouts (3 s connect, 10 s in all), a non-200 answer, a body over 64 KiB, or anything
    else answers REVOCATION_UNAVAILABLE.

Which one an organisation uses: its :class:`~madoguchi.identity.models.JpkiSettings` row,
else ``api`` when the installation has a verification URL, else ``crl``.

Certificates of the installation's test CA are always checked against the test CA's own CRL
(``<MADOGUCHI_DATA_DIR>/jpki-test/crl.der``), whatever the organisation chose.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from madoguchi.core.registry import Registry
from madoguchi.identity.signatures.base import SignatureProblem
from madoguchi.identity.signatures.trust import test_ca_dir
from madoguchi.tenants.models import Organisation

MAX_CRL_BYTES = 64 * 1024 * 1024
MAX_API_RESPONSE = 64 * 1024
API_TIMEOUT_SECONDS = 10.0


class RevocationFailed(Exception):
    """The check said no, or could not say yes: ``code`` and a Japanese ``message``."""

    def __init__(self, code: SignatureProblem, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class RevocationQuery:
    certificate: asn1_x509.Certificate
    issuer: asn1_x509.Certificate
    signature: bytes
    #: SHA-256 of the bytes the signature covers.
    signed_digest: bytes
    organisation: Organisation
    now: datetime


#: A checker returns a short label of how it checked (``crl:<issuer>#<number>``) or raises.
Checker = Callable[[RevocationQuery], str]

revocation_checkers: Registry[Checker] = Registry("jpki revocation")


# --- CRL ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrlFacts:
    issuer: str
    issuer_hash: str
    crl_number: str
    this_update: datetime
    next_update: datetime
    revoked_count: int


def issuer_hash(name_der: bytes) -> str:
    return hashlib.sha256(name_der).hexdigest()


def crl_check_signed(crl: x509.CertificateRevocationList, issuer_der: bytes) -> bool:
    """True when ``crl`` was signed by the key of the CA certificate ``issuer_der`` (False for
    anything that cannot be checked)."""
    try:
        issuer = x509.load_der_x509_certificate(issuer_der)
        if crl.issuer != issuer.subject:
            return False
        key = issuer.public_key()
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            return False
        return crl.is_signature_valid(key)
    except ValueError:
        return False


def crl_facts(crl: x509.CertificateRevocationList) -> CrlFacts:
    """What the console shows of a CRL. Raises ValueError for a CRL without nextUpdate."""
    next_update = crl.next_update_utc
    if next_update is None:
        raise ValueError("no nextUpdate")
    try:
        number = str(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        number = ""
    return CrlFacts(
        issuer=crl.issuer.rfc4514_string()[:500],
        issuer_hash=issuer_hash(crl.issuer.public_bytes()),
        crl_number=number[:64],
        this_update=crl.last_update_utc,
        next_update=next_update,
        revoked_count=len(crl),
    )


_parsed: dict[str, x509.CertificateRevocationList] = {}


def _crl_revocation(der: bytes, *, query: RevocationQuery, label: str) -> str:
    """Check ``query.certificate`` against the CRL ``der`` of its issuer; fail closed."""
    digest = hashlib.sha256(der).hexdigest()
    crl = _parsed.get(digest)
    if crl is None:
        try:
            loaded = x509.load_der_x509_crl(der)
            valid = crl_check_signed(loaded, query.issuer.dump())
        except Exception:
            valid = False
        if not valid:
            raise RevocationFailed(
                SignatureProblem.REVOCATION_UNAVAILABLE,
                "失効リスト（CRL）が認証局の署名を確認できないため、失効の確認ができません。"
                "団体の担当者に連絡してください。",
            )
        if len(_parsed) > 16:
            _parsed.clear()
        _parsed[digest] = crl = loaded
    next_update = crl.next_update_utc
    if next_update is None or next_update < query.now:
        raise RevocationFailed(
            SignatureProblem.REVOCATION_UNAVAILABLE,
            "失効リスト（CRL）の有効期限が切れているため、失効の確認ができません。"
            "時間をおいてもう一度お試しいただくか、団体の担当者に連絡してください。",
        )
    entry = crl.get_revoked_certificate_by_serial_number(query.certificate.serial_number)
    if entry is not None:
        raise RevocationFailed(
            SignatureProblem.REVOKED,
            "この署名用電子証明書は失効しています。マイナンバーカードの電子証明書を市区町村の窓口で"
            "更新してから、もう一度署名してください。",
        )
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = 0
    return f"crl:{label}#{number}"


def test_ca_revocation(query: RevocationQuery) -> str:
    try:
        der = (test_ca_dir() / "crl.der").read_bytes()
    except OSError:
        raise RevocationFailed(
            SignatureProblem.REVOCATION_UNAVAILABLE,
            "テスト用認証局の失効リストがありません。madoguchi card issue を実行してください。",
        ) from None
    return _crl_revocation(der, query=query, label="test-ca")


@revocation_checkers.register("crl")
def crl_revocation(query: RevocationQuery) -> str:
    from madoguchi.identity.models import JpkiCrl

    stored = (
        JpkiCrl.objects.filter(
            organisation=query.organisation,
            issuer_hash=issuer_hash(query.issuer.subject.dump()),
        )
        .only("der", "organisation__lg_code")
        .first()
    )
    if stored is None:
        raise RevocationFailed(
            SignatureProblem.REVOCATION_UNAVAILABLE,
            "この団体には失効リスト（CRL）が取り込まれていないため、失効の確認ができません。"
            "団体の担当者に連絡してください。",
        )
    return _crl_revocation(bytes(stored.der), query=query, label=query.organisation.lg_code)


# --- The verification API -------------------------------------------------------------------

API_RESULTS = {
    "SIGNATURE_MISMATCH": (
        SignatureProblem.SIGNATURE_MISMATCH,
        "検証サービスによると、署名が申請内容と一致しません。申請内容にもう一度署名してください。",
    ),
    "REVOKED": (
        SignatureProblem.REVOKED,
        "検証サービスによると、この署名用電子証明書は失効しています。マイナンバーカードの電子証明書を"
        "市区町村の窓口で更新してから、もう一度署名してください。",
    ),
    "EXPIRED": (
        SignatureProblem.EXPIRED,
        "検証サービスによると、この署名用電子証明書は有効期限が切れています。市区町村の窓口で"
        "電子証明書を更新してから、もう一度署名してください。",
    ),
}

_UNAVAILABLE = (
    "失効の確認に使う検証サービスに接続できませんでした。時間をおいてもう一度お試しください。"
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@revocation_checkers.register("api")
def api_revocation(query: RevocationQuery) -> str:
    url = settings.JPKI_VERIFY_URL
    if not url:
        raise RevocationFailed(SignatureProblem.REVOCATION_UNAVAILABLE, _UNAVAILABLE)
    body = json.dumps(
        {
            "certificate": base64.b64encode(query.certificate.dump()).decode(),
            "signature": base64.b64encode(query.signature).decode(),
            "digest": base64.b64encode(query.signed_digest).decode(),
            "digest_algorithm": "sha256",
        }
    ).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if settings.JPKI_VERIFY_TOKEN:
        headers["Authorization"] = f"Bearer {settings.JPKI_VERIFY_TOKEN}"
    # The URL is checked to be http(s) when settings load (env_jpki_verify_url).
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=API_TIMEOUT_SECONDS) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            raw = response.read(MAX_API_RESPONSE + 1)
        if len(raw) > MAX_API_RESPONSE:
            raise ValueError("response too large")
        answer = json.loads(raw)
        result = answer.get("result") if isinstance(answer, dict) else None
    except (TimeoutError, OSError, ValueError, urllib.error.URLError, UnicodeError):
        raise RevocationFailed(SignatureProblem.REVOCATION_UNAVAILABLE, _UNAVAILABLE) from None
    if result == "OK":
        return f"api:{urlsplit(url).hostname}"
    if isinstance(result, str) and result in API_RESULTS:
        code, message = API_RESULTS[result]
        raise RevocationFailed(code, message)
    raise RevocationFailed(SignatureProblem.REVOCATION_UNAVAILABLE, _UNAVAILABLE)


def revocation_method(organisation: Organisation) -> str:
    """The organisation's choice, else the installation's default (module docstring)."""
    from madoguchi.identity.models import JpkiSettings

    chosen = (
        JpkiSettings.objects.filter(organisation=organisation)
        .values_list("revocation", flat=True)
        .first()
    )
    if chosen:
        return chosen
    return "api" if settings.JPKI_VERIFY_URL else "crl"


__all__ = [
    "RevocationFailed",
    "RevocationQuery",
    "crl_facts",
    "revocation_checkers",
    "revocation_method",
    "test_ca_revocation",
]
