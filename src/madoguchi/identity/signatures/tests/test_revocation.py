"""Revocation plugins: the CRL an organisation imports, and the operator's verification API
(a thread server on loopback that checks the signature itself and keeps a revoked list)."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.audit.models import AuditEvent
from madoguchi.identity.models import JpkiCrl
from madoguchi.identity.signatures import revocation
from madoguchi.identity.signatures.base import SignatureProblem as P
from madoguchi.identity.signatures.base import SignatureRefused
from madoguchi.identity.signatures.services import (
    CrlRefused,
    jpki_crl_import,
    jpki_revocation_set,
    signature_verify,
)
from madoguchi.identity.signatures.tests.pki import Pki

CONTENT = b'{"procedure":"jido-teate"}'
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def now() -> datetime:
    return datetime.now(UTC)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- CRL import ---------------------------------------------------------------------------------


def test_a_crl_is_imported_and_shown(trusted, organisation):
    crl = jpki_crl_import(
        organisation=organisation, data=trusted.jlis.crl("a"), actor=None, now=now()
    )

    assert crl.revoked_count == 1
    assert "JPKI for digital signature" in crl.issuer
    assert crl.next_update > now()
    assert AuditEvent.objects.filter(organisation=organisation, action="jpki.crl_imported").exists()


def test_a_pem_crl_is_imported(trusted, organisation):
    trusted.jlis.crl("pem")  # writes pem.crl.pem beside the DER it returns
    data = (trusted.jlis.dir / "pem.crl.pem").read_bytes()
    assert data.startswith(b"-----BEGIN X509 CRL-----")

    assert jpki_crl_import(organisation=organisation, data=data, actor=None, now=now())


BAD_CRLS = {
    "empty": (lambda pki: b"", "empty"),
    "truncated": (lambda pki: pki.jlis.crl("t")[:-30], "malformed"),
    "garbage": (lambda pki: b"\x30\x82\x01\x00garbage", "malformed"),
    "a certificate": (lambda pki: pki.certs["valid"].read_bytes(), "malformed"),
    "signed by the wrong key": (lambda pki: pki.other.crl("w"), "untrusted"),
}


@pytest.mark.parametrize("name", list(BAD_CRLS))
def test_a_bad_crl_is_refused_audited_and_nothing_changes(trusted, organisation, name):
    jpki_crl_import(
        organisation=organisation, data=trusted.jlis.crl("before"), actor=None, now=now()
    )
    before = list(JpkiCrl.objects.values_list("pk", "sha256"))
    make, reason = BAD_CRLS[name]

    with pytest.raises(CrlRefused) as caught:
        jpki_crl_import(organisation=organisation, data=make(trusted), actor=None, now=now())

    assert caught.value.reason == reason
    assert JAPANESE.search(caught.value.message)
    assert list(JpkiCrl.objects.values_list("pk", "sha256")) == before
    assert AuditEvent.objects.filter(action="jpki.crl_refused", reason=reason).exists()


def test_a_stale_crl_is_refused_on_import(trusted, organisation):
    data = trusted.jlis.crl("stale", hours=1)
    with pytest.raises(CrlRefused) as caught:
        jpki_crl_import(
            organisation=organisation, data=data, actor=None, now=now() + timedelta(hours=2)
        )
    assert caught.value.reason == "stale"


def test_a_crl_under_the_test_ca_is_refused_in_production(trusted, organisation, settings):
    settings.JPKI_TRUST_ANCHORS = ""
    with pytest.raises(CrlRefused):
        jpki_crl_import(
            organisation=organisation, data=trusted.jlis.crl("x"), actor=None, now=now()
        )


def test_the_crl_import_command(trusted, organisation, capsys):
    path = trusted.root / "import.crl"
    path.write_bytes(trusted.jlis.crl("cmd"))

    call_command("jpki", "crl-import", "--organisation", organisation.lg_code, str(path))

    assert "取り込みました" in capsys.readouterr().out
    path.write_bytes(b"junk")
    with pytest.raises(CommandError, match="読み取れません"):
        call_command("jpki", "crl-import", "--organisation", organisation.lg_code, str(path))
    with pytest.raises(CommandError, match="団体"):
        call_command("jpki", "crl-import", "--organisation", "999999", str(path))


# --- The verification API -----------------------------------------------------------------------


class VerifyServer:
    """Speaks the verification API: checks the signature over the digest with the
    certificate's key, then answers from its lists."""

    def __init__(self) -> None:
        self.revoked: set[int] = set()
        self.expired: set[int] = set()
        self.mode = "normal"
        self.requests: list[dict[str, Any]] = []
        self.port = free_port()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"auth": self.headers.get("Authorization"), **body})
                if server.mode == "garbage":
                    self._send(200, b"<html>not json")
                    return
                if server.mode == "error":
                    self._send(500, b'{"result":"OK"}')
                    return
                if server.mode == "unknown":
                    self._send(200, b'{"result":"MAYBE"}')
                    return
                certificate = x509.load_der_x509_certificate(base64.b64decode(body["certificate"]))
                try:
                    key = certificate.public_key()
                    assert isinstance(key, rsa.RSAPublicKey)
                    key.verify(
                        base64.b64decode(body["signature"]),
                        base64.b64decode(body["digest"]),
                        padding.PKCS1v15(),
                        utils.Prehashed(hashes.SHA256()),
                    )
                    result = "OK"
                except InvalidSignature:
                    result = "SIGNATURE_MISMATCH"
                if result == "OK" and certificate.serial_number in server.revoked:
                    result = "REVOKED"
                if result == "OK" and certificate.serial_number in server.expired:
                    result = "EXPIRED"
                if server.mode == "mismatch":
                    result = "SIGNATURE_MISMATCH"
                self._send(200, json.dumps({"result": result}).encode())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/verify"


@pytest.fixture(scope="module")
def verify_server() -> Iterator[VerifyServer]:
    server = VerifyServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def api(trusted: Pki, verify_server: VerifyServer, settings: Any) -> VerifyServer:
    settings.JPKI_VERIFY_URL = verify_server.url
    settings.JPKI_VERIFY_TOKEN = "operator-token"
    verify_server.mode = "normal"
    verify_server.revoked.clear()
    verify_server.expired.clear()
    return verify_server


def _serial(pki: Pki, name: str) -> int:
    return x509.load_pem_x509_certificate(pki.certs[name].read_bytes()).serial_number


def _verify(pki: Pki, organisation: Any) -> Any:
    return signature_verify(
        cms=pki.sign(CONTENT), content=CONTENT, organisation=organisation, now=now()
    )


def test_with_a_verify_url_the_api_is_the_default(trusted, api, organisation):
    result = _verify(trusted, organisation)

    assert result.revocation == "api:127.0.0.1"
    request = api.requests[-1]
    assert request["auth"] == "Bearer operator-token"
    assert request["digest_algorithm"] == "sha256"


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("revoked", P.REVOKED),
        ("expired", P.EXPIRED),
        ("mismatch", P.SIGNATURE_MISMATCH),
        ("garbage", P.REVOCATION_UNAVAILABLE),
        ("error", P.REVOCATION_UNAVAILABLE),
        ("unknown", P.REVOCATION_UNAVAILABLE),
    ],
)
def test_api_answers_refuse(trusted, api, organisation, setup, code):
    if setup == "revoked":
        api.revoked.add(_serial(trusted, "valid"))
    elif setup == "expired":
        api.expired.add(_serial(trusted, "valid"))
    else:
        api.mode = setup

    with pytest.raises(SignatureRefused) as caught:
        _verify(trusted, organisation)

    assert caught.value.code == code
    assert JAPANESE.search(caught.value.message)


def test_api_down_fails_closed(trusted, organisation, settings):
    settings.JPKI_VERIFY_URL = f"http://127.0.0.1:{free_port()}/v1/verify"
    with pytest.raises(SignatureRefused) as caught:
        _verify(trusted, organisation)
    assert caught.value.code == P.REVOCATION_UNAVAILABLE


def test_api_too_slow_fails_closed(trusted, organisation, settings, monkeypatch):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    monkeypatch.setattr(revocation, "API_TIMEOUT_SECONDS", 0.3)
    settings.JPKI_VERIFY_URL = f"http://127.0.0.1:{silent.getsockname()[1]}/v1/verify"
    try:
        with pytest.raises(SignatureRefused) as caught:
            _verify(trusted, organisation)
    finally:
        silent.close()
    assert caught.value.code == P.REVOCATION_UNAVAILABLE


def test_an_organisation_may_choose_its_crl_over_the_api(trusted, api, organisation):
    jpki_revocation_set(organisation=organisation, method="crl", actor=None, now=now())
    jpki_crl_import(organisation=organisation, data=trusted.jlis.crl("own"), actor=None, now=now())

    assert _verify(trusted, organisation).revocation.startswith("crl:")
    with pytest.raises(ValueError, match="ocsp"):
        jpki_revocation_set(organisation=organisation, method="ocsp", actor=None, now=now())


def test_a_chain_inside_the_cms_is_used(trusted, api, organisation):
    cms = trusted.sign(CONTENT, "chained", extra=("-certfile", str(trusted.root / "chain.pem")))

    result = signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now())

    assert len(result.chain_der) == 1
    assert result.revocation == "api:127.0.0.1"


def test_without_its_chain_the_card_is_untrusted(trusted, api, organisation):
    with pytest.raises(SignatureRefused) as caught:
        signature_verify(
            cms=trusted.sign(CONTENT, "chained"),
            content=CONTENT,
            organisation=organisation,
            now=now(),
        )
    assert caught.value.code == P.UNTRUSTED


def test_an_intermediate_without_an_imported_crl_fails_closed(trusted, organisation):
    """Only anchors' CRLs can be imported: a card under an intermediate cannot be checked."""
    jpki_crl_import(organisation=organisation, data=trusted.jlis.crl("root"), actor=None, now=now())
    cms = trusted.sign(CONTENT, "chained", extra=("-certfile", str(trusted.root / "chain.pem")))
    with pytest.raises(SignatureRefused) as caught:
        signature_verify(cms=cms, content=CONTENT, organisation=organisation, now=now())
    assert caught.value.code == P.REVOCATION_UNAVAILABLE
