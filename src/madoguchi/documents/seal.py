"""The organisation's electronic seal (電子公印): PAdES signatures on every issued PDF.

FOUNDATION STUB — the sealing engineer replaces the body of :func:`seal_pdf` with pyHanko
(PAdES B-LT, RFC 3161 timestamp, the test CA for ``make run``, file keys and PKCS#11).
The signature of :func:`seal_pdf` and :class:`Sealed` is the contract the rest relies on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from madoguchi.tenants.models import Organisation


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


def seal_pdf(pdf: bytes, *, organisation: Organisation, now: datetime) -> Sealed:
    """Sign ``pdf`` with ``organisation``'s seal. Raises :class:`SealError`."""
    return Sealed(pdf=pdf, sealed_by="", timestamped=False, archive_due_at=None)
