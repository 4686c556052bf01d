"""Limits on public verification (検証の回数の上限), so that codes cannot be enumerated.

Anyone may look a verification code up at ``/verify/<code>`` (and ``GET /api/v1/verify/…``)
or upload a PDF to ``/verify/``. The codes are 80 random bits, so guessing is hopeless
anyway; the limits make a scan expensive and keep the PDF validator (CPU-heavy) from being a
free service for a flood. Per client address (IPv6: per /64, the rule of
:func:`madoguchi.core.ratelimit.network_of`; counted under the keyed hash of
:func:`madoguchi.notifications.ratelimit.client_key`, so the address itself is never stored):

- **Look-ups** (``LOOKUP_LIMIT``): 60 a minute. A clerk checking a pile of documents by hand
  needs a few a minute; a script needs thousands.
- **Uploads** (``UPLOAD_LIMIT``): 20 in ten minutes.

The counts are fixed windows in Django's default cache, kept by the one counter of
:mod:`madoguchi.core.ratelimit` (per process with the default local-memory cache,
installation-wide when ``CACHES["default"]`` is a shared cache such as Redis). A refused
attempt is not counted and stores nothing; the caller shows a Japanese page (429) with the
seconds to wait.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from madoguchi.core.ratelimit import Limit, window_admit
from madoguchi.notifications.ratelimit import client_key

#: (most attempts, window in seconds) per client address.
LOOKUP_LIMIT: Final = (60, 60)
UPLOAD_LIMIT: Final = (20, 600)


def _admit(kind: str, limit: Limit, client_address: str | None, now: datetime) -> int | None:
    if not client_address:
        return None
    key = f"madoguchi.verify.{kind}.{client_key(client_address)[:32]}"
    return window_admit(checks=[(key, limit)], now=now)


def verify_lookup_admit(*, client_address: str | None, now: datetime) -> int | None:
    """Count one code look-up; None when it may go ahead, else the seconds to wait."""
    return _admit("lookup", LOOKUP_LIMIT, client_address, now)


def verify_upload_admit(*, client_address: str | None, now: datetime) -> int | None:
    """Count one PDF upload; None when it may go ahead, else the seconds to wait."""
    return _admit("upload", UPLOAD_LIMIT, client_address, now)


def wait_text(seconds: int) -> str:
    """The Japanese sentence for a refused attempt."""
    minutes, rest = divmod(seconds, 60)
    span = (
        f"{minutes}分{rest}秒" if minutes and rest else f"{minutes}分" if minutes else f"{rest}秒"
    )
    return (
        "短い時間に多くの確認が行われたため、いったん受付を止めています。"
        f"{span}ほど待ってから、もう一度お試しください。"
    )


__all__ = [
    "LOOKUP_LIMIT",
    "UPLOAD_LIMIT",
    "verify_lookup_admit",
    "verify_upload_admit",
    "wait_text",
]
