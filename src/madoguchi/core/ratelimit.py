"""The one fixed-window counter (固定ウィンドウの回数制限) every cache-counted limit uses, and the
one rule for which network a client counts as.

**Windows.** A limit is ``(most, window)``: at most ``most`` attempts in each window of
``window`` seconds. Windows are fixed and aligned to the epoch: the window of an attempt at
``now`` starts at ``t − t mod window`` (``t`` the Unix time of ``now`` in whole seconds) and
ends ``window`` seconds later, when the count starts again from nothing. (Fixed, not sliding:
a client can make up to ``2 × most`` attempts across the boundary of two windows, which these
limits — made to turn a script away, not a person — accept for the price of one cache entry.)
The time is always the caller's ``now``; this module never reads the clock.

**Keys.** Each check names a key; the counter counts under ``<key>.<window start>``. The
caller builds the key from a name of its own (``madoguchi.verify.lookup`` …) and a *keyed
hash* (HMAC with the secret key, as hex digits) of what it counts by — an account id, or the client's network
(:func:`network_of`) — never the client's address itself, so no address lands in the cache.
Different keys count independently.

**Admission.** :func:`window_admit` counts one attempt under each of its checks, in order.
When one of them would go beyond its ``most``, the attempt is refused: it is taken back from
every check it was counted under (a refused attempt counts nowhere, so hammering never pushes
the retry further away), and the answer is the seconds until the refusing check's window ends
(at least 1), for ``Retry-After``; ``None`` admits it.

**Where the counts live.** In Django's default cache (``CACHES["default"]``). Madoguchi
configures none, so by default it is each process's own local memory: the counts are *per
process*, and with ``W`` server workers a client can make up to ``W × most`` attempts in a
window when its requests land on different workers (still bounded; a single-process
``make run`` counts exactly). A deployment that points ``CACHES["default"]`` at a shared cache
(Redis, memcached) makes every count installation-wide; nothing else changes. ``incr`` is
atomic in those caches and in the local-memory cache (it holds a lock), so within one cache a
limit is never exceeded. Entries live two windows and then expire on their own. The counts are
deliberately not database rows: a rush of attempts must not become a rush of writes.

Used by :mod:`madoguchi.reservations.ratelimit` (booking attempts) and
:mod:`madoguchi.documents.ratelimit` (public verification); :func:`network_of` also by
:mod:`madoguchi.notifications.ratelimit`, whose mail limits are counted from outbox rows
(sliding windows), not here.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Sequence
from datetime import datetime

from django.core.cache import cache

from madoguchi.core.metrics import RATE_LIMITED

#: ``(most attempts, window in seconds)``.
type Limit = tuple[int, int]


def network_of(client_address: str) -> str:
    """The network a client counts as: the IPv4 address, or the IPv6 /64 (one household or
    host can use a whole /64; a mapped IPv4 address ``::ffff:192.0.2.1`` counts as that IPv4
    address). Anything that is not an address (a misconfigured proxy) is counted as given,
    trimmed and cut to 100 characters."""
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


def window_admit(*, checks: Sequence[tuple[str, Limit]], now: datetime) -> int | None:
    """Count one attempt under each ``(key, (most, window))`` of ``checks``, in order (see the
    module text). Returns ``None`` when every check admits it; otherwise the seconds (at least
    1) until the window of the first refusing check ends, and the attempt is counted nowhere.
    No checks admit. Keys must be cache-safe (ASCII, no spaces or control characters, as a
    dotted name and a hex digest are) and end with the client's part after a last dot (a
    refusal is counted in ``/metrics`` under the name before it); writes only the cache."""
    stamp = int(now.timestamp())
    counted: list[str] = []
    for name, (most, window) in checks:
        start = stamp - stamp % window
        key = f"{name}.{start}"
        if _count(key, window) > most:
            for done in [*counted, key]:
                _uncount(done)
            # /metrics: the key without its last part (the client's digest), e.g. "verify.lookup".
            RATE_LIMITED.labels(name.rpartition(".")[0].removeprefix("madoguchi.")[:64]).inc()
            return max(1, start + window - stamp)
        counted.append(key)
    return None


__all__ = ["Limit", "network_of", "window_admit"]
