"""Which CAs a JPKI signature may chain to (trust anchors), and the installation's test CA.

Anchors, in this order:

1. ``MADOGUCHI_JPKI_TRUST_ANCHORS``: a PEM bundle of the J-LIS signing CA certificates, for
   a real deployment (read again when the file changes; a missing or unreadable file trusts
   nothing from it and is logged, never a 500).
2. Only when ``MADOGUCHI_ENV`` is not ``production``: the installation's test CA,
   ``<MADOGUCHI_DATA_DIR>/jpki-test/ca.pem`` (made by ``madoguchi card issue`` or the demo
   bootstrap). Certificates under it are checked against its own CRL,
   ``jpki-test/crl.der``, whatever the organisation chose.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem, x509
from django.conf import settings

logger = logging.getLogger(__name__)

#: A PEM bundle larger than this is not a list of CA certificates.
MAX_BUNDLE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Anchor:
    certificate: x509.Certificate
    #: True for the installation's test CA (never in production).
    test: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.certificate.dump()).hexdigest()


_cache: dict[tuple[str, int, int], tuple[Anchor, ...]] = {}


def test_ca_dir() -> Path:
    return Path(settings.DATA_DIR) / "jpki-test"


def test_ca_allowed() -> bool:
    return not settings.PRODUCTION


def _load_bundle(path: Path, *, test: bool) -> tuple[Anchor, ...]:
    try:
        info = path.stat()
    except OSError:
        if not test:
            logger.error("MADOGUCHI_JPKI_TRUST_ANCHORS: %s cannot be read", path)
        return ()
    key = (str(path), info.st_mtime_ns, info.st_size)
    if key in _cache:
        return _cache[key]
    anchors: list[Anchor] = []
    try:
        if info.st_size > MAX_BUNDLE_BYTES:
            raise ValueError("too large")
        data = path.read_bytes()
        if pem.detect(data):
            for kind, _headers, der in pem.unarmor(data, multiple=True):
                if kind == "CERTIFICATE":
                    certificate = x509.Certificate.load(der)
                    certificate.native  # parse now: a broken anchor fails here, not later  # noqa: B018
                    anchors.append(Anchor(certificate, test))
        else:
            certificate = x509.Certificate.load(data)
            certificate.native  # noqa: B018
            anchors.append(Anchor(certificate, test))
    except Exception:
        logger.exception("JPKI trust anchors in %s cannot be parsed", path)
        anchors = []
    _cache[key] = tuple(anchors)
    return _cache[key]


def trust_anchors() -> tuple[Anchor, ...]:
    """The anchors now in force (see the module docstring)."""
    anchors: list[Anchor] = []
    if settings.JPKI_TRUST_ANCHORS:
        anchors.extend(_load_bundle(Path(settings.JPKI_TRUST_ANCHORS), test=False))
    if test_ca_allowed():
        anchors.extend(_load_bundle(test_ca_dir() / "ca.pem", test=True))
    return tuple(anchors)
