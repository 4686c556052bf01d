"""Limits on public verification (検証の回数の上限), so that codes cannot be enumerated.

Anyone may look a verification code up at ``/verify/<code>`` (and ``GET /api/v1/verify/…``)
or upload a PDF to ``/verify/``. The codes are 80 random bits, so guessing is hopeless
anyway; the limits make a scan expensive and keep the PDF validator (CPU-heavy) from being a
free service for a flood. Per client address (IPv6: per /64, the rule of
:mod:`madoguchi.notifications.ratelimit`, whose keyed hash is reused, so the address itself
is never stored):

- **Look-ups** (``LOOKUP_LIMIT``): 60 a minute. A clerk checking a pile of documents by hand
  needs a few a minute; a script needs thousands.
- **Uploads** (``UPLOAD_LIMIT``): 20 in ten minutes.

The counts are fixed windows in Django's default cache (per process unless a shared cache
is configured, as for :mod:`madoguchi.reservations.ratelimit`). A refused attempt is not
counted and stores nothing; the caller shows a Japanese page (429) with the seconds to wait.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Final

from django.core.cache import cache

from madoguchi.notifications.ratelimit import client_key

#: (most attempts, window in seconds) per client address.
LOOKUP_LIMIT: Final = (60, 60)
UPLOAD_LIMIT: Final = (20, 600)


def _admit(
    kind: str, limit: tuple[int, int], client_address: str | None, now: datetime
) -> int | None:
    if not client_address:
        return None
    most, window = limit
    stamp = int(now.timestamp())
    start = stamp - stamp % window
    key = f"madoguchi.verify.{kind}.{client_key(client_address)[:32]}.{start}"
    if cache.add(key, 1, window * 2):
        return None
    try:
        count = int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window * 2)
        return None
    if count > most:
        with contextlib.suppress(ValueError):
            cache.decr(key)
        return max(1, start + window - stamp)
    return None


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
