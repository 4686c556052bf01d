"""Limits on booking attempts (先着予約の試行回数の上限), so that a bot cannot out-click people.

Every first-come hold attempt — successful or not, from the portal or the API — passes
:func:`booking_attempt_admit` first; :func:`madoguchi.reservations.services.booking_hold` calls
it, so the portal and the API share one rule and no entry point can forget it. Two limits:

1. **Per account** (``PER_USER``): at most 30 attempts in a minute by one account, from
   wherever. A person clicking through a calendar needs a few; a script watching for
   cancellations needs hundreds.
2. **Per client address** (``PER_ADDRESS``): at most 120 attempts in a minute from one client
   address, whatever accounts it uses (one team holding many member cards). An IPv6 client
   counts by its /64 network, IPv4 by the address (the same rule as
   :mod:`madoguchi.notifications.ratelimit`); generous enough for a town hall behind one NAT
   address during a normal morning, not for a farm of accounts.

A refused attempt is not counted (hammering does not push the retry time further away) and
stores nothing; the caller raises ``ReservationError(code="rate")`` with the seconds until the
window ends, and the API answers 429 with ``Retry-After``.

The counts are fixed one-minute windows in Django's cache, by keyed hashes (never the address
itself). **Where the counts live**: the installation's default cache. Madoguchi configures no
shared cache, so by default it is each process's own memory: with ``W`` server workers one
account can make up to ``W`` × 30 attempts a minute when its requests land on different
workers (still bounded, and a single-process ``make run`` counts exactly). A deployment that
wants one count across processes and servers points Django's ``CACHES["default"]`` at a
shared cache (Redis, memcached); nothing else changes. The counts are deliberately not
database rows: a rush of attempts would then be a rush of writes on the very tables the
bookings need. Under concurrency ``incr`` is atomic in the shared caches and in the local
memory cache (it holds a lock), so a limit is never exceeded within one cache.
"""

from __future__ import annotations

import contextlib
import ipaddress
from datetime import datetime
from typing import Final

from django.core.cache import cache
from django.utils.crypto import salted_hmac

#: (most attempts, window in seconds) per account.
PER_USER: Final = (30, 60)
#: (most attempts, window in seconds) per client address (IPv6: per /64).
PER_ADDRESS: Final = (120, 60)

_SALT: Final = "madoguchi.reservations.ratelimit"


def network_of(client_address: str) -> str:
    """The network a client counts as: the IPv4 address, or the IPv6 /64 (a mapped IPv4
    address counts as that IPv4 address). Anything else is counted as given (truncated)."""
    raw = client_address.strip()
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:100]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _key(kind: str, value: str, window_start: int) -> str:
    digest = salted_hmac(f"{_SALT}.{kind}", value, algorithm="sha256").hexdigest()[:32]
    return f"madoguchi.booking-attempts.{kind}.{digest}.{window_start}"


def _count(key: str, window: int) -> int:
    """Add one to ``key`` (created with a lifetime of two windows) and return the new count."""
    if cache.add(key, 1, window * 2):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr: start again
        cache.add(key, 1, window * 2)
        return 1


def _uncount(key: str) -> None:
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        cache.decr(key)


def booking_attempt_admit(
    *, user_id: int | None, client_address: str | None, now: datetime
) -> int | None:
    """Count one booking attempt of ``user_id`` from ``client_address``; return ``None`` when it
    may go ahead, or the seconds to wait (at least 1) when a limit refuses it (then it is not
    counted). Either argument may be None (a counter booking has no client address)."""
    stamp = int(now.timestamp())
    counted: list[str] = []
    checks = []
    if user_id is not None:
        checks.append(("user", str(user_id), PER_USER))
    if client_address:
        checks.append(("address", network_of(client_address), PER_ADDRESS))
    for kind, value, (most, window) in checks:
        start = stamp - stamp % window
        key = _key(kind, value, start)
        if _count(key, window) > most:
            for done in [*counted, key]:
                _uncount(done)
            return max(1, start + window - stamp)
        counted.append(key)
    return None


__all__ = ["PER_ADDRESS", "PER_USER", "booking_attempt_admit", "network_of"]
