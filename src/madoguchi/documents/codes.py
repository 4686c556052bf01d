"""Verification codes (照合番号) of issued documents and their public address."""

from __future__ import annotations

import secrets
import unicodedata

from django.conf import settings

#: Crockford's base32 without I, L, O, U: nothing to misread when typed from paper.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS = 4
CODE_GROUP_LENGTH = 4


def code_new() -> str:
    """A fresh verification code (照合番号): 16 characters, 80 random bits, in groups of four
    (``7K3Q-M2XD-90PA-RT4N``)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LENGTH))
    return "-".join(raw[i : i + CODE_GROUP_LENGTH] for i in range(0, len(raw), CODE_GROUP_LENGTH))


def code_normalise(text: str) -> str | None:
    """A typed or scanned code in its stored form, or None when it cannot be one (lower case,
    full-width characters, spaces and missing hyphens are forgiven; O→0, I/L→1)."""
    cleaned = unicodedata.normalize("NFKC", text or "").upper()
    cleaned = "".join(ch for ch in cleaned if ch not in " -‐－ー—")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(cleaned) != CODE_GROUPS * CODE_GROUP_LENGTH or any(
        ch not in CODE_ALPHABET for ch in cleaned
    ):
        return None
    return "-".join(
        cleaned[i : i + CODE_GROUP_LENGTH] for i in range(0, len(cleaned), CODE_GROUP_LENGTH)
    )


def verify_url(code: str) -> str:
    """The public address that shows the document of ``code`` (printed as a QR code)."""
    return f"{settings.PORTAL_URL.rstrip('/')}/verify/{code}"
