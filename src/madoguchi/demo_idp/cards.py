"""Test cards on disk: ``<data dir>/jpki-test/cards/<name>/card.key`` and ``card.pem``
(what ``madoguchi card issue`` writes), and the 基本4情報 in their certificates.

The four items are read from the certificate's subjectAltName ``otherName`` entries, each a
UTF8String under 1.2.392.200149.8.5.5.1 (name), .3 (sex), .4 (date of birth, YYYYMMDD) and
.5 (address), the JPKI signing certificate's profile.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from django.conf import settings

OID_NAME = "1.2.392.200149.8.5.5.1"
OID_SEX = "1.2.392.200149.8.5.5.3"
OID_BIRTH_DATE = "1.2.392.200149.8.5.5.4"
OID_ADDRESS = "1.2.392.200149.8.5.5.5"
_CARD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_FILE = 64 * 1024


@dataclass(frozen=True)
class TestCard:
    key: str  # the directory's name
    name: str
    sex: str
    birth_date: str  # YYYY-MM-DD
    address: str
    certificate_der: bytes
    #: Stable per card: SHA-256 of its public key (the ``sub`` the demo gives).
    subject: str

    @property
    def directory(self) -> Path:
        return cards_dir() / self.key


def cards_dir() -> Path:
    return Path(settings.DATA_DIR) / "jpki-test" / "cards"


def _utf8(value: bytes) -> str:
    try:
        parsed = core.UTF8String.load(value)
        return str(parsed.native or "")
    except (ValueError, TypeError):
        pass
    try:  # an [0] EXPLICIT wrapper left around the string
        outer = core.Asn1Value.load(value)
        return str(core.UTF8String.load(outer.contents).native or "")
    except (ValueError, TypeError):
        return ""


def card_read(directory: Path) -> TestCard | None:
    """The card in ``directory``, or None when it is not a usable test card."""
    pem = directory / "card.pem"
    key = directory / "card.key"
    if not (pem.is_file() and key.is_file()) or pem.stat().st_size > MAX_FILE:
        return None
    try:
        certificate = x509.load_pem_x509_certificate(pem.read_bytes())
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return None
    found: dict[str, str] = {}
    for other in names.value.get_values_for_type(x509.OtherName):
        found[other.type_id.dotted_string] = _utf8(other.value)
    birth = found.get(OID_BIRTH_DATE, "")
    birth_date = f"{birth[:4]}-{birth[4:6]}-{birth[6:8]}" if re.fullmatch(r"\d{8}", birth) else ""
    public = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TestCard(
        key=directory.name,
        name=found.get(OID_NAME, ""),
        sex=found.get(OID_SEX, ""),
        birth_date=birth_date,
        address=found.get(OID_ADDRESS, ""),
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        subject=hashlib.sha256(public).hexdigest()[:40],
    )


def cards_list() -> list[TestCard]:
    folder = cards_dir()
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir())[:200]:
        if entry.is_dir() and _CARD_NAME.match(entry.name):
            card = card_read(entry)
            if card is not None and card.name:
                found.append(card)
    return found


def card_get(key: str) -> TestCard | None:
    if not _CARD_NAME.match(key):
        return None
    directory = cards_dir() / key
    return card_read(directory) if directory.is_dir() else None


def card_sign(card: TestCard, digest: bytes) -> bytes:
    """What the card does with a digest: RSA PKCS#1 v1.5 over DigestInfo(SHA-256, digest)."""
    data = (card.directory / "card.key").read_bytes()
    private = serialization.load_pem_private_key(data, password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("the card key is not RSA")
    return private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
