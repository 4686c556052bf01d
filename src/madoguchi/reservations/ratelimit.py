"""Limits on booking attempts (先着予約の試行回数の上限), so that a bot cannot out-click people.

Every first-come hold attempt — successful or not, from the portal or the API — passes
:func:`booking_attempt_admit` first; :func:`madoguchi.reservations.services.booking_hold` calls
it, so the portal and the API share one rule and no entry point can forget it. Two limits:

1. **Per account** (``PER_USER``): at most 30 attempts in a minute by one account, from
   wherever. A person clicking through a calendar needs a few; a script watching for
   cancellations needs hundreds.
2. **Per client address** (``PER_ADDRESS``): at most 120 attempts in a minute from one client
   address, whatever accounts it uses (one team holding many member cards). An IPv6 client
   counts by its /64 network, IPv4 by the address (the one rule,
   :func:`madoguchi.core.ratelimit.network_of`, as for mail limits); generous enough for a town hall behind one NAT
   address during a normal morning, not for a farm of accounts.

A refused attempt is not counted (hammering does not push the retry time further away) and
stores nothing; the caller raises ``ReservationError(code="rate")`` with the seconds until the
window ends, and the API answers 429 with ``Retry-After``.

The counts are fixed one-minute windows in Django's cache, under keyed hashes of the account and
of the client network (never the address itself), kept by the one counter of
:mod:`madoguchi.core.ratelimit` — whose text says how windows roll over and **where the counts
live**: by default each process's own memory (with ``W`` server workers one account can make
up to ``W`` × 30 attempts a minute when its requests land on different workers), installation-
wide when ``CACHES["default"]`` is a shared cache (Redis, memcached).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from django.utils.crypto import salted_hmac

from madoguchi.core.ratelimit import Limit, network_of, window_admit

#: (most attempts, window in seconds) per account.
PER_USER: Final = (30, 60)
#: (most attempts, window in seconds) per client address (IPv6: per /64).
PER_ADDRESS: Final = (120, 60)

_SALT: Final = "madoguchi.reservations.ratelimit"


def _key(kind: str, value: str) -> str:
    digest = salted_hmac(f"{_SALT}.{kind}", value, algorithm="sha256").hexdigest()[:32]
    return f"madoguchi.booking-attempts.{kind}.{digest}"


def booking_attempt_admit(
    *, user_id: int | None, client_address: str | None, now: datetime
) -> int | None:
    """Count one booking attempt of ``user_id`` from ``client_address``; return ``None`` when it
    may go ahead, or the seconds to wait (at least 1) when a limit refuses it (then it is not
    counted). Either argument may be None (a counter booking has no client address)."""
    checks: list[tuple[str, Limit]] = []
    if user_id is not None:
        checks.append((_key("user", str(user_id)), PER_USER))
    if client_address:
        checks.append((_key("address", network_of(client_address)), PER_ADDRESS))
    return window_admit(checks=checks, now=now)


__all__ = ["PER_ADDRESS", "PER_USER", "booking_attempt_admit", "network_of"]
