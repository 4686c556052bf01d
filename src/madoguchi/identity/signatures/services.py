"""Checking a JPKI signature: the one service every entry point uses."""

from __future__ import annotations

from datetime import datetime

from madoguchi.identity.signatures.base import SignatureVerification
from madoguchi.tenants.models import Organisation


def signature_verify(
    *, cms: bytes, content: bytes, organisation: Organisation, now: datetime
) -> SignatureVerification:
    """Verify a detached CMS SignedData over ``content`` for ``organisation``.

    Read-only. Raises :class:`~madoguchi.identity.signatures.base.SignatureRefused`.
    """
    raise NotImplementedError
