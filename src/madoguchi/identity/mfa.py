"""The staff second factor: TOTP (RFC 6238) and one-time recovery codes.

TOTP is the usual authenticator-app flavour: HMAC-SHA-1, 6 digits, 30-second steps, and a code
of the previous, current or next step is accepted (clocks drift). A code is never accepted twice:
the last accepted step is stored and only a later step passes, so a code seen over a shoulder or
in a proxy log is worthless once used. The secret is encrypted with the application keys
(:mod:`madoguchi.core.crypto`), so a database dump alone does not give anyone a second factor.

Recovery codes (10, shown once) replace the authenticator when it is lost. Only a salted SHA-256
of each code is stored; each works once. Codes carry 60 random bits, so a fast hash is enough
(the login throttle limits guessing, as it does for TOTP codes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from base64 import b32decode, b32encode
from datetime import datetime
from typing import Final
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from django.db import transaction

from madoguchi.core.crypto import decrypt, encrypt
from madoguchi.identity.models import RecoveryCode, StaffTOTP, User

DIGITS: Final = 6
STEP_SECONDS: Final = 30
#: Steps either side of the current one that are still accepted (clock drift).
WINDOW: Final = 1
SECRET_BYTES: Final = 20  # 160 bits, as RFC 4226 recommends for SHA-1
ISSUER: Final = "窓口"
RECOVERY_CODE_COUNT: Final = 10
#: Crockford-like alphabet without look-alikes (0/O, 1/I/L), so a code read aloud or from
#: paper is typed right.
_RECOVERY_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_RECOVERY_LENGTH: Final = 12


class MFAError(ValueError):
    """A second-factor operation that cannot be done; the message is Japanese."""


class AlreadyEnrolled(MFAError):
    def __init__(self) -> None:
        super().__init__("二要素認証はすでに設定されています。")


class NotEnrolled(MFAError):
    def __init__(self) -> None:
        super().__init__("二要素認証が設定されていません。")


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 and every authenticator app use; HMAC-SHA-1 is not broken.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS)  # noqa: S303


def _secret_of(record: StaffTOTP) -> bytes:
    return b32decode(decrypt(record.secret_encrypted))


def step_of(instant: datetime) -> int:
    """The RFC 6238 time step (counter) of an instant."""
    return int(instant.timestamp()) // STEP_SECONDS


def totp_code_at(*, secret_b32: str, instant: datetime) -> str:
    """The code an authenticator shows at ``instant`` (used by tests and the demo docs)."""
    code = _totp(b32decode(secret_b32)).generate(step_of(instant) * STEP_SECONDS)
    return code.decode("ascii")


def _normalise_code(code: object) -> str | None:
    """Digits only (全角 digits and spaces allowed); anything else is not a code."""
    if not isinstance(code, str) or len(code) > 32:
        return None
    text = unicodedata.normalize("NFKC", code).replace(" ", "").replace("-", "")
    if len(text) != DIGITS or not text.isascii() or not text.isdigit():
        return None
    return text


def _matching_step(secret: bytes, code: str, instant: datetime, after: int) -> int | None:
    """The step within the window whose code is ``code`` and which is later than ``after``."""
    totp = _totp(secret)
    current = step_of(instant)
    found: int | None = None
    # Check every step of the window (not stopping at a match) so the time taken does not
    # say which step matched.
    for step in range(current - WINDOW, current + WINDOW + 1):
        expected = totp.generate(step * STEP_SECONDS)
        if hmac.compare_digest(expected, code.encode("ascii")) and step > after:
            found = step if found is None else found
    return found


def otpauth_uri(*, secret_b32: str, account: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    label = quote(f"{ISSUER}:{account}", safe="@:")
    query = urlencode(
        {
            "secret": secret_b32,
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def totp_is_confirmed(*, user: User) -> bool:
    return StaffTOTP.objects.filter(user=user, confirmed_at__isnull=False).exists()


def totp_begin_enrolment(*, user: User, now: datetime) -> str:
    """Start (or restart) enrolment: a fresh secret, not yet confirmed. Returns the secret in
    base32 for the QR code and for typing by hand.

    Raises :class:`AlreadyEnrolled` when a confirmed TOTP exists: replacing a working second
    factor needs an admin's reset (``totp_reset``), never only the password.
    """
    secret = b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
    with transaction.atomic():
        record = StaffTOTP.objects.select_for_update().filter(user=user).first()
        if record is not None and record.confirmed_at is not None:
            raise AlreadyEnrolled
        if record is None:
            record = StaffTOTP(user=user)
        record.secret_encrypted = encrypt(secret)
        record.confirmed_at = None
        record.last_step = 0
        record.created_at = now
        record.save()
    return secret


def totp_pending_secret(*, user: User) -> str | None:
    """The base32 secret of an enrolment in progress (to show it again), or ``None``."""
    record = StaffTOTP.objects.filter(user=user, confirmed_at__isnull=True).first()
    return None if record is None else b32encode(_secret_of(record)).decode("ascii")


def totp_confirm(*, user: User, code: object, now: datetime) -> bool:
    """Confirm an enrolment with the first code the app shows. True when confirmed.

    The step of that code is stored as used, so it cannot also log in. Raises
    :class:`AlreadyEnrolled` (confirmed already) or :class:`NotEnrolled` (no enrolment begun).
    """
    text = _normalise_code(code)
    with transaction.atomic():
        record = StaffTOTP.objects.select_for_update().filter(user=user).first()
        if record is None:
            raise NotEnrolled
        if record.confirmed_at is not None:
            raise AlreadyEnrolled
        if text is None:
            return False
        step = _matching_step(_secret_of(record), text, now, after=record.last_step)
        if step is None:
            return False
        record.confirmed_at = now
        record.last_step = step
        record.save(update_fields=["confirmed_at", "last_step"])
    return True


def totp_verify(*, user: User, code: object, now: datetime) -> bool:
    """True when ``code`` is valid now and of a later step than any code accepted before.

    Acceptance and the new ``last_step`` are one conditional update, so two concurrent logins
    with the same code cannot both pass. Raises :class:`NotEnrolled` without a confirmed TOTP.
    """
    record = StaffTOTP.objects.filter(user=user, confirmed_at__isnull=False).first()
    if record is None:
        raise NotEnrolled
    text = _normalise_code(code)
    if text is None:
        return False
    step = _matching_step(_secret_of(record), text, now, after=record.last_step)
    if step is None:
        return False
    with transaction.atomic():
        updated = StaffTOTP.objects.filter(pk=record.pk, last_step__lt=step).update(last_step=step)
    return updated == 1


def totp_reset(*, user: User) -> bool:
    """Remove the second factor and the recovery codes (an admin's reset for a lost phone).

    The staff member must enrol again at the next login. True when something was removed.
    """
    with transaction.atomic():
        removed, _ = StaffTOTP.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
    return removed > 0


# --- Recovery codes ---------------------------------------------------------------------------


def _hash_recovery(code: str, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{code}".encode("ascii")).hexdigest()
    return f"sha256${salt}${digest}"


def _normalise_recovery(code: object) -> str | None:
    if not isinstance(code, str) or len(code) > 64:
        return None
    text = unicodedata.normalize("NFKC", code).upper()
    text = "".join(ch for ch in text if ch not in " -")
    if len(text) != _RECOVERY_LENGTH or any(ch not in _RECOVERY_ALPHABET for ch in text):
        return None
    return text


def recovery_codes_generate(*, user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with 10 new ones and return them, formatted
    ``XXXX-XXXX-XXXX``. This is the only time they exist in clear text."""
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(
                user=user, code_hash=_hash_recovery(code, secrets.token_hex(16)), created_at=now
            )
            for code in codes
        )
    return [f"{c[0:4]}-{c[4:8]}-{c[8:12]}" for c in codes]


def recovery_codes_remaining(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def recovery_code_use(*, user: User, code: object, now: datetime) -> bool:
    """Spend one unused recovery code of ``user``. True when ``code`` was one.

    Case, spaces, hyphens and full-width characters do not matter. The spending is a
    conditional update, so a code works once even for two concurrent requests.
    """
    text = _normalise_recovery(code)
    if text is None:
        return False
    match: int | None = None
    for pk, stored in RecoveryCode.objects.filter(user=user, used_at__isnull=True).values_list(
        "pk", "code_hash"
    ):
        _, salt, _digest = stored.split("$", 2)
        if hmac.compare_digest(_hash_recovery(text, salt), stored) and match is None:
            match = pk
    if match is None:
        return False
    with transaction.atomic():
        updated = RecoveryCode.objects.filter(pk=match, used_at__isnull=True).update(used_at=now)
    return updated == 1
