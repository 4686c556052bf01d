"""Throttling failed logins without handing an attacker a way to lock a victim out.

One mechanism for both doors: the staff console and the resident portal (``identity.login``
applies it and records every attempt; an account's failures count whichever door they came
through, so the portal is no way around the console's limits for a staff password).

Every attempt (password step, second factor, refused while throttled) is a ``LoginAttempt``
row: the SHA-256 of the lower-cased address typed (``account_key``; the same for an account
that exists and one that does not, so throttling never tells which addresses are accounts),
the client's IP address, its device (below), the stage and the outcome. Decisions are made
from those rows, so they hold across processes and servers, and the rows are the access record
as well.

Three limits, each aimed at one kind of attack:

1. **Account and client together** (``PAIR_*``): after ``PAIR_FREE_FAILURES`` failures of one
   account from one client since that pair's last complete login, each further attempt waits
   twice as long as the one before (2 s, 4 s, 8 s … up to ``PAIR_MAX_DELAY``). The client is
   the *browser* when it presents a device cookie that vouches for the account (the pair is
   then (account, device): the failures made with that same cookie), and otherwise the
   *address* (the pair is (account, address): every failure from that address, cookie or
   not). This slows guessing from one place — a thief holding the victim's browser still meets
   the wait after that browser's own failures — and never holds the victim's own browser up
   for anyone else's failures: an attacker without its cookie adds failures only to an
   (account, address) pair, even from the victim's own office NAT or carrier-grade NAT address.
2. **Address across accounts** (``ADDRESS_*``): an address with ``ADDRESS_MAX_FAILURES``
   failures in ``ADDRESS_WINDOW`` (whatever accounts) is refused until the window moves on.
   This stops one machine from trying one password against many accounts (password spraying).
3. **Account across addresses** (``ACCOUNT_*``): when an account collects
   ``ACCOUNT_FREE_FAILURES`` failures in ``ACCOUNT_WINDOW`` from anywhere (a botnet, one guess
   per address), every attempt on it waits, doubling per further failure up to
   ``ACCOUNT_MAX_DELAY``.

Limits 2 and 3 are what an attacker could turn against a victim (hammer the victim's account,
or share the victim's office NAT address), so they are **bypassed for a trusted client**: one
that presents the device cookie this module signs at a successful login of that account
(:func:`device_token_make`), or that logs in from an address where that account completed a full
login (password *and* second factor) within ``KNOWN_ADDRESS_DAYS``. A password alone never makes
an address known, so an attacker who has the password cannot use it to escape limit 3 while
guessing second-factor codes. Limit 1 always applies, to the pair described there.

**The device.** The device cookie is signed (Django's signing, this module's salt) and holds a
random per-browser id (``secrets``, kept when the cookie is re-issued at later logins, for any
account) and the accounts it vouches for. Each ``LoginAttempt`` records in ``device`` a keyed
hash of that id (HMAC with the site's secret key, :func:`device_key_of`) whenever the request
presents a genuine cookie — never the id itself, so the record cannot be turned into a cookie.
A cookie signed before the id existed (a bare list of accounts) still vouches for its accounts
but has no device: for it limit 1 counts by address, as without a cookie. Without a device
cookie nothing else changes either.

Attempts refused because of throttling are recorded with stage ``throttled`` and do not count
as failures, so hammering during a wait does not stretch the wait of a slow typist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from django.core import signing
from django.db import transaction
from django.utils.crypto import salted_hmac

from madoguchi.core.metrics import LOGIN_FAILURES, RATE_LIMITED
from madoguchi.identity.models import LoginAttempt, User

PAIR_FREE_FAILURES: Final = 3
PAIR_MAX_DELAY: Final = timedelta(minutes=15)
#: Failures older than this no longer count for the pair (a forgotten password a day later).
PAIR_WINDOW: Final = timedelta(hours=24)
ADDRESS_MAX_FAILURES: Final = 30
ADDRESS_WINDOW: Final = timedelta(minutes=15)
ACCOUNT_FREE_FAILURES: Final = 10
ACCOUNT_WINDOW: Final = timedelta(minutes=15)
ACCOUNT_MAX_DELAY: Final = timedelta(minutes=5)
KNOWN_ADDRESS_DAYS: Final = 90
DEVICE_COOKIE: Final = "madoguchi_device"
DEVICE_MAX_AGE: Final = 60 * 60 * 24 * KNOWN_ADDRESS_DAYS
#: Accounts remembered by one browser (a shared counter PC); the oldest is forgotten first.
DEVICE_MAX_ACCOUNTS: Final = 5
_DEVICE_SALT: Final = "madoguchi.identity.throttle.device"
_DEVICE_KEY_SALT: Final = "madoguchi.identity.throttle.device-key"
#: Length of the random per-browser id inside the device cookie (URL-safe text).
DEVICE_ID_BYTES: Final = 18

STAGE_PASSWORD: Final = "password"  # noqa: S105 (a stage name)
STAGE_TOTP: Final = "totp"
STAGE_RECOVERY: Final = "recovery"
STAGE_ENROL: Final = "enrol"
STAGE_THROTTLED: Final = "throttled"
#: The resident portal's login, where the password is the only factor: its success is a
#: complete login. A staff account never succeeds there (``identity.login``), so a staff
#: password alone still never makes an address known.
STAGE_RESIDENT: Final = "resident"
#: The resident portal's passkey login (device + biometrics/PIN: two factors in one step).
STAGE_PASSKEY: Final = "passkey"
#: Stages whose success means a complete login (every factor the account has).
FULL_LOGIN_STAGES: Final = (STAGE_TOTP, STAGE_RECOVERY, STAGE_ENROL, STAGE_RESIDENT, STAGE_PASSKEY)


def account_key_of(typed: object) -> str:
    """SHA-256 of the address as typed, lower-cased: the same key whether or not it exists."""
    text = typed if isinstance(typed, str) else ""
    return hashlib.sha256(text.strip().lower().encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class LoginDecision:
    allowed: bool
    wait_seconds: int = 0
    #: Which limit refused: "pair", "address" or "account" (for the record, never shown).
    limit: str = ""

    def _wait_text(self) -> str:
        minutes = max(1, -(-self.wait_seconds // 60))
        wait = f"約{self.wait_seconds}秒" if self.wait_seconds < 60 else f"約{minutes}分"
        return (
            "ログインの失敗が続いたため、しばらくログインを受け付けません。"
            f"{wait}後にもう一度お試しください。"
        )

    @property
    def wait_message(self) -> str:
        """When to try again, and nothing about passwords (a login without one)."""
        return self._wait_text() if not self.allowed else ""

    @property
    def message(self) -> str:
        """What staff are told: when to try again, in Japanese, the same for every limit."""
        if self.allowed:
            return ""
        return self._wait_text() + "パスワードを忘れた場合は団体管理者に連絡してください。"

    @property
    def resident_message(self) -> str:
        """What a resident is told: the same wait, and the way to reset the password."""
        if self.allowed:
            return ""
        return self._wait_text() + "パスワードを忘れた場合は、パスワードを再設定できます。"


def _failures(**filters: object) -> list[datetime]:
    return list(
        LoginAttempt.objects.filter(success=False, **filters)
        .exclude(stage=STAGE_THROTTLED)
        .order_by("-at")
        .values_list("at", flat=True)[:200]
    )


def _exponential(count: int, free: int, cap: timedelta) -> timedelta:
    if count < free:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(count - free + 1, 20)), cap)


def login_trusted(
    *, account: object, address: str | None, now: datetime, device_token: str | None = None
) -> bool:
    """True when this client has logged in to ``account`` before: by device cookie or from
    this address within ``KNOWN_ADDRESS_DAYS`` (full logins only)."""
    key = account_key_of(account)
    if device_token and key in device_token_accounts(device_token):
        return True
    if not address:
        return False
    return LoginAttempt.objects.filter(
        account_key=key,
        address=address,
        success=True,
        stage__in=FULL_LOGIN_STAGES,
        at__gte=now - timedelta(days=KNOWN_ADDRESS_DAYS),
    ).exists()


def login_allowed(
    *,
    account: object,
    address: str | None,
    now: datetime,
    trusted: bool = False,
    device_token: object = None,
) -> LoginDecision:
    """May this client try to log in to ``account`` now? (See the module notes.)

    ``account`` is the address as typed (or the user's address at the second step);
    ``trusted`` comes from :func:`login_trusted`; ``device_token`` is the device cookie the
    request presented (limit 1 counts that browser's failures instead of the address's when
    it vouches for ``account`` and has a device id). Never raises; reads only.
    """
    key = account_key_of(account)
    waits: list[tuple[timedelta, str]] = []

    # 1. The pair: (account, device) for a browser vouched for, else (account, address);
    # counted since the pair's last complete login, within PAIR_WINDOW.
    device = device_key_of(device_token) if key in device_token_accounts(device_token) else ""
    client: dict[str, object] = {"device": device} if device else {"address": address}
    if device or address:
        since = now - PAIR_WINDOW
        last_success = (
            LoginAttempt.objects.filter(
                account_key=key,
                success=True,
                stage__in=FULL_LOGIN_STAGES,
                at__gte=since,
                **client,
            )
            .order_by("-at")
            .values_list("at", flat=True)
            .first()
        )
        pair = _failures(account_key=key, at__gte=last_success or since, **client)
        delay = _exponential(len(pair), PAIR_FREE_FAILURES, PAIR_MAX_DELAY)
        if pair and delay and pair[0] + delay > now:
            waits.append((pair[0] + delay - now, "pair"))

    if not trusted:
        # 2. The address, whatever the accounts.
        if address:
            recent = _failures(address=address, at__gte=now - ADDRESS_WINDOW)
            if len(recent) >= ADDRESS_MAX_FAILURES:
                # Open again when enough failures have left the window.
                oldest_counted = recent[ADDRESS_MAX_FAILURES - 1]
                waits.append((oldest_counted + ADDRESS_WINDOW - now, "address"))
        # 3. The account, whatever the addresses.
        failures = _failures(account_key=key, at__gte=now - ACCOUNT_WINDOW)
        delay = _exponential(len(failures), ACCOUNT_FREE_FAILURES, ACCOUNT_MAX_DELAY)
        if failures and delay and failures[0] + delay > now:
            waits.append((failures[0] + delay - now, "account"))

    waits = [(wait, limit) for wait, limit in waits if wait > timedelta(0)]
    if not waits:
        return LoginDecision(allowed=True)
    wait, limit = max(waits)
    return LoginDecision(
        allowed=False, wait_seconds=max(1, int(wait.total_seconds()) + 1), limit=limit
    )


def login_failure_kind(*, stage: str, user: User | None, portal: str) -> str:
    """The ``kind`` label of a failed login: ``resident`` (the portal), ``second_factor`` (a
    code, a recovery code, enrolment), ``operator`` (a platform operator's password: the
    operators' admin site logs in through the console) or ``console`` (staff)."""
    if portal != "console":
        return "resident"
    if stage in (STAGE_TOTP, STAGE_RECOVERY, STAGE_ENROL):
        return "second_factor"
    if user is not None and user.is_staff:
        return "operator"
    return "console"


def login_record(
    *,
    account: object,
    address: str | None,
    now: datetime,
    success: bool,
    stage: str,
    user: User | None = None,
    portal: str = "console",
    device_token: object = None,
) -> LoginAttempt:
    """Append one attempt (in the caller's transaction). The typed text is kept only as its
    hash; the password is never passed here; of the device cookie the request presented, only
    the keyed hash of its device id (:func:`device_key_of`).
    ``identity.login.login_attempt_record`` adds the audit event in the same transaction.
    A failure is counted in ``/metrics`` once committed: a throttled attempt as the rate
    limit ``login``, any other by kind (:func:`login_failure_kind`)."""
    if not success:
        counter = (
            RATE_LIMITED.labels("login")
            if stage == STAGE_THROTTLED
            else LOGIN_FAILURES.labels(login_failure_kind(stage=stage, user=user, portal=portal))
        )
        transaction.on_commit(counter.inc)
    return LoginAttempt.objects.create(
        at=now,
        account_key=account_key_of(account),
        address=address or None,
        user=user,
        success=success,
        stage=stage[:16],
        portal=portal[:16],
        device=device_key_of(device_token),
    )


# --- The device cookie ----------------------------------------------------------------------


def _device_token_load(token: object) -> tuple[str, list[str]]:
    """The device id ("" for a cookie signed before there were ids) and the account keys of a
    genuine, unexpired device cookie; ("", []) for anything else."""
    if not isinstance(token, str) or len(token) > 2000 or not token.isascii():
        return "", []
    try:
        value = signing.loads(token, salt=_DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return "", []
    device: object = ""
    if isinstance(value, dict):
        device, value = value.get("d", ""), value.get("a")
    if not isinstance(value, list):
        return "", []
    if not isinstance(device, str) or not 16 <= len(device) <= 64:
        device = ""
    return device, [key for key in value if isinstance(key, str) and len(key) == 64]


def device_token_accounts(token: object) -> list[str]:
    """The account keys a genuine, unexpired device cookie vouches for ([] for anything else)."""
    return _device_token_load(token)[1]


def device_key_of(token: object) -> str:
    """The keyed hash (HMAC-SHA-256 with the site's secret key) of the device id in a genuine,
    unexpired device cookie: what ``LoginAttempt.device`` holds. "" for a cookie without an id
    (signed before ids existed) and for anything that is not a genuine cookie."""
    device = _device_token_load(token)[0]
    if not device:
        return ""
    return salted_hmac(_DEVICE_KEY_SALT, device, algorithm="sha256").hexdigest()


def device_token_make(*, account: object, previous: object = None) -> str:
    """A device cookie value that adds ``account`` to what ``previous`` vouched for, and keeps
    the browser's device id (a new random one when ``previous`` has none)."""
    key = account_key_of(account)
    device, keys = _device_token_load(previous)
    keys = [k for k in keys if k != key]
    keys = [*keys, key][-DEVICE_MAX_ACCOUNTS:]
    return signing.dumps(
        {"d": device or secrets.token_urlsafe(DEVICE_ID_BYTES), "a": keys}, salt=_DEVICE_SALT
    )
