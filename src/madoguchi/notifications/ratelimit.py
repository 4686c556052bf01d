"""Limits on mail that someone can make the platform send, so that it is never a mail cannon.

Anyone on the internet can type an address into a form (applying without an account, signing
up, asking for a password reset). Without limits, a script could make the platform send
thousands of mails to a victim, or to thousands of victims, from our domain and our reputation.
Every mail *requested* this way is queued with the requesting client's IP address
(``outbox_enqueue_email(client_address=…)``), and two limits, counted from the outbox rows
themselves (so they hold across processes and servers), decide whether it is sent:

1. **Per recipient** (``RECIPIENT_LIMITS``): at most 3 requested mails to one address in
   10 minutes, and 10 in 24 hours, whoever asks. This protects the owner of the address. The
   address is normalised first (trimmed, lower-cased, NFKC, a ``+tag`` in the local part
   removed), so ``Victim+1@example.jp`` and ``victim+2@example.jp`` are one recipient.
2. **Per client address** (``CLIENT_LIMITS``): at most 20 requested mails from one client in
   an hour, and 100 in 24 hours, to whatever addresses. This stops one machine from spraying
   many addresses. An IPv6 client counts by its /64 network (one household or host can use a
   whole /64); IPv4 by the address itself (the one rule for all limits,
   :func:`madoguchi.core.ratelimit.network_of`). The limits are generous enough for a shared
   counter PC or a town hall behind one NAT address.

The windows slide: a limit counts the rows of the last 10 minutes, hour or day, not of a clock
hour. A refused request raises :class:`MailRateLimited` with ``retry_at`` — the moment the
oldest counted mail leaves the window — and a Japanese message that names the limit and that
time; the portal shows it on the page and the API answers 429 with ``Retry-After``. A refused
request stores nothing and sends nothing, and does not count: hammering a limit does not
push the retry time further away.

Which mails are counted — the rule, decided once here:

- **Requested by an unauthenticated client** (the guest e-mail confirmation of the portal and
  of the API, resident sign-up, the verification resend, the password reset): the caller
  passes ``client_address``; the mail is checked and counted. These are exactly the mails where
  whoever asks has not (yet) proved they own the address.
- **Sent because of a real act of the platform** (the receipt of an application whose sender
  proved the address or is logged in, a staff member's decision or correction request, a staff
  invitation by an admin, the draft-expiry reminder): no ``client_address``; never refused and
  not counted. A decision notice is a legal notice and must reach the applicant whatever else
  happened that day; each one stands for a stored application or an act of a logged-in staff
  member, which is its own limit.

Rows carry keyed hashes (HMAC with the secret key) of the normalised recipient and of the
client network, never the client's address itself; the recipient's address stays in the
payload only, as it must to be sent. Under concurrency the check and the insert are not one
atomic step, so simultaneous requests can each pass a limit that only one of them should have:
the limit may be exceeded by the number of requests in flight at once, never more.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Final

from django.utils.crypto import salted_hmac

from madoguchi.core.ratelimit import network_of
from madoguchi.core.time import to_tokyo

#: (window, most requested mails in it) per normalised recipient address.
RECIPIENT_LIMITS: Final = ((timedelta(minutes=10), 3), (timedelta(hours=24), 10))
#: (window, most requested mails in it) per client address (IPv6: per /64).
CLIENT_LIMITS: Final = ((timedelta(hours=1), 20), (timedelta(hours=24), 100))

_SALT: Final = "madoguchi.notifications.ratelimit"


class MailRateLimited(Exception):
    """Too many mails were requested; nothing was queued. ``str()`` is the Japanese message."""

    def __init__(self, *, limit: str, retry_at: datetime, now: datetime) -> None:
        self.limit = limit
        self.retry_at = retry_at
        self.retry_after_seconds = max(1, int((retry_at - now).total_seconds()) + 1)
        local = to_tokyo(retry_at)
        super().__init__(
            f"メールの送信回数が上限に達しました（{limit}）。"
            f"{local:%m月%d日 %H時%M分}以降に、もう一度お試しください。"
        )


def recipient_key(address: str) -> str:
    """The keyed hash under which mails to ``address`` are counted (see the module text)."""
    text = unicodedata.normalize("NFKC", address).strip().lower()
    local, at, domain = text.rpartition("@")
    if at and "+" in local:
        local = local.split("+", 1)[0]
    normalised = f"{local}@{domain}" if at else text
    return salted_hmac(_SALT + ".recipient", normalised, algorithm="sha256").hexdigest()


def client_key(client_address: str) -> str:
    """The keyed hash under which requests of ``client_address`` are counted (IPv6: its /64)."""
    network = network_of(client_address)
    return salted_hmac(_SALT + ".client", network, algorithm="sha256").hexdigest()


def window_label(window: timedelta, most: int, whom: str) -> str:
    minutes = int(window.total_seconds()) // 60
    span = f"{minutes // 60}時間" if minutes % 60 == 0 else f"{minutes}分間"
    return f"{whom}{span}に{most}通まで"
